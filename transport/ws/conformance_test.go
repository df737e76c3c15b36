package ws

import (
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/coderclawtest"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestConformance runs the runtime conformance suite against a Client that
// talks to a real server on loopback in front of a real node.
func TestConformance(t *testing.T) {
	coderclawtest.Run(t, func(t *testing.T) coderclaw.Runtime {
		n := nodetest.New(t)
		return dial(t, serve(t, NewHandler(n, HandlerOptions{})))
	})
}
