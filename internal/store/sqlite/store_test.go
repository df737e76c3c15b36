package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw/internal/store"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
	"github.com/coderclaw/coderclaw/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open opens a store in a new temporary directory, closed at the end of
// the test.
func open(t testing.TB, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "coderclaw.db")
	}
	s, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestExercise(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return open(t, sqlite.Config{}) })
}

// TestExerciseSmallBatches runs the suite with batches of at most two
// requests, so the batch boundaries fall everywhere.
func TestExerciseSmallBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Exercise(t, func(t *testing.T) store.Store {
		return open(t, sqlite.Config{MaxBatch: 2, ReadConns: 1, Synchronous: "normal"})
	})
}
