package grpc

import (
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/coderclawtest"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestConformance runs the runtime conformance suite against a Client that
// talks to a real h2c server on loopback in front of a real node, once per
// protocol.
func TestConformance(t *testing.T) {
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			coderclawtest.Run(t, func(t *testing.T) coderclaw.Runtime {
				n := nodetest.New(t)
				return newClient(t, serve(t, NewHandler(n, HandlerOptions{})), p)
			})
		})
	}
}
