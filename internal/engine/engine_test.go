package engine_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/coderclawtest"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestConformance runs the runtime contract suite against the engine itself.
func TestConformance(t *testing.T) {
	coderclawtest.Run(t, func(t *testing.T) coderclaw.Runtime { return nodetest.New(t) })
}
