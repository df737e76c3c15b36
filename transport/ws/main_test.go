package ws

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: server
// connections, subscriptions, clients and nodes all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
