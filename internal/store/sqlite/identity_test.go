package sqlite_test

import (
	"testing"

	"github.com/coderclaw/coderclaw/internal/identity/identitytest"
	"github.com/coderclaw/coderclaw/internal/identity/idstore"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

func TestIdentities(t *testing.T) {
	identitytest.Exercise(t, func(t *testing.T) idstore.Store { return open(t, sqlite.Config{}).Identities() })
}

// TestIdentitiesSmallBatches runs the suite with batches of at most two
// requests, so refusals share batches with other writes everywhere.
func TestIdentitiesSmallBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	identitytest.Exercise(t, func(t *testing.T) idstore.Store {
		return open(t, sqlite.Config{MaxBatch: 2, ReadConns: 1, Synchronous: "normal"}).Identities()
	})
}
