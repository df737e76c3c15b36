package llmfake

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a fake server, a handler or an SDK
// connection outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
