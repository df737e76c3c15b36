package grpc

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind:
// handlers, stream producers, servers, client connections and nodes all
// end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
