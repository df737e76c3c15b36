package engine

import (
	"time"

	"github.com/coderclaw/coderclaw"
)

// Observer receives the engine's measurements, for metrics. Its methods are
// called on the engine's hot paths and must not block.
type Observer interface {
	// Submitted reports a stored submission and how long storing it took.
	Submitted(d time.Duration)
	// Transitioned reports n tasks stored as entering status to, and how
	// long the store write took.
	Transitioned(to coderclaw.Status, n int, d time.Duration)
	// StreamStarted and StreamEnded bracket every Stream iteration.
	StreamStarted()
	StreamEnded()
}

// nopObserver is the Observer of an engine configured without one.
type nopObserver struct{}

func (nopObserver) Submitted(time.Duration)                           {}
func (nopObserver) Transitioned(coderclaw.Status, int, time.Duration) {}
func (nopObserver) StreamStarted()                                    {}
func (nopObserver) StreamEnded()                                      {}
