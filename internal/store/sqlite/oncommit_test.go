package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

func TestOnCommit(t *testing.T) {
	var batches, requests atomic.Int64
	st, err := sqlite.Open(context.Background(), sqlite.Config{
		Path: filepath.Join(t.TempDir(), "db"),
		OnCommit: func(batch int, d time.Duration) {
			batches.Add(1)
			requests.Add(int64(batch))
			if d <= 0 {
				t.Errorf("commit took %s", d)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for range 3 {
		_, err := st.CreateTask(context.Background(), coderclaw.Task{
			ID: uuid.Must(uuid.NewV7()).String(), Input: "x", AgentID: "noop", Status: coderclaw.StatusPending,
			Attempt: 1, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now,
		}, "test")
		if err != nil {
			t.Fatal(err)
		}
	}
	if requests.Load() != 3 || batches.Load() < 1 || batches.Load() > 3 {
		t.Errorf("OnCommit saw %d requests in %d batches, want 3 in 1..3", requests.Load(), batches.Load())
	}
}
