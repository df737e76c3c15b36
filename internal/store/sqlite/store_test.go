package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
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

func TestOpenBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg   sqlite.Config
		field string
	}{
		{sqlite.Config{}, "Path"},
		{sqlite.Config{Path: ":memory:"}, "Path"},
		{sqlite.Config{Path: filepath.Join(dir, "a.db"), Synchronous: "OFF"}, "Synchronous"},
		{sqlite.Config{Path: filepath.Join(dir, "a.db"), ReadConns: -1}, "ReadConns"},
		{sqlite.Config{Path: filepath.Join(dir, "a.db"), MaxBatch: -5}, "MaxBatch"},
		{sqlite.Config{Path: filepath.Join(dir, "a.db"), MaxBatch: 1 << 20}, "MaxBatch"},
	} {
		s, err := sqlite.Open(context.Background(), tc.cfg)
		if err == nil {
			s.Close()
			t.Errorf("Open(%+v): no error", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Open(%+v): %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "missing", "dir", "a.db")}); err == nil {
		t.Errorf("Open in a missing directory: no error")
	}
	// Lower case is fine, and NORMAL is allowed.
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "b.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatalf("Open with synchronous normal: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDurability closes a store and opens the file again: everything
// written is there, and new events continue the positions.
func TestDurability(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "durable.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 20 {
		tk := coderclaw.Task{ID: fmt.Sprintf("0190a5f0-0000-7000-8000-%012d", i), Input: "x", AgentID: "a",
			Labels: map[string]string{"n": fmt.Sprint(i)}, Attempt: 1, MaxAttempts: 2, CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if _, err := s.CreateTask(ctx, tk, "test"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	claimed, err := s.Claim(ctx, store.Claim{Owner: "w", Limit: 5, Now: at, LeaseUntil: at.Add(time.Minute)})
	if err != nil || len(claimed) != 5 {
		t.Fatalf("Claim: %d, %v", len(claimed), err)
	}
	for _, c := range claimed[:2] {
		if _, err := s.Append(ctx, c.ID, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "hi", Data: []byte(`{"a":1}`)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Transition(ctx, store.Transition{TaskID: c.ID, To: coderclaw.StatusCompleted, Attempt: 1, Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func(s *sqlite.Store) (map[string]coderclaw.Task, []coderclaw.Event) {
		tasks := map[string]coderclaw.Task{}
		for _, id := range ids {
			tk, err := s.Task(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			tasks[id] = tk
		}
		evs, err := s.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tasks, evs
	}
	wantTasks, wantEvents := snapshot(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, sqlite.Config{Path: path})
	gotTasks, gotEvents := snapshot(s)
	if !reflect.DeepEqual(gotTasks, wantTasks) {
		t.Errorf("tasks after reopening differ:\n got %+v\nwant %+v", gotTasks, wantTasks)
	}
	if !reflect.DeepEqual(gotEvents, wantEvents) {
		t.Errorf("events after reopening differ:\n got %+v\nwant %+v", gotEvents, wantEvents)
	}
	// The leases survive too: the claimed tasks not completed are rescued
	// once their lease is over, and positions keep growing.
	rescued, err := s.Rescue(ctx, store.Rescue{Now: at.Add(2 * time.Minute)})
	if err != nil || len(rescued) != 3 {
		t.Fatalf("Rescue after reopening: %d, %v; want 3", len(rescued), err)
	}
	evs, err := s.EventsSince(ctx, wantEvents[len(wantEvents)-1].Position, 0)
	if err != nil || len(evs) != 3 {
		t.Fatalf("new events after reopening: %+v, %v", evs, err)
	}
}

// TestCloseWithWriters closes the store while writers are busy: each write
// either succeeded, and is then in the file, or failed with ErrClosed.
func TestCloseWithWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "close.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		written []string
		wg      sync.WaitGroup
		started = make(chan struct{}, 16)
	)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%02d-%06d", w, i)
				_, err := s.CreateTask(ctx, coderclaw.Task{ID: id, Input: "x", AgentID: "a", Attempt: 1, MaxAttempts: 1, CreatedAt: time.Now()}, "t")
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("CreateTask: %v", err)
					return
				}
				mu.Lock()
				written = append(written, id)
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	for range 16 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	s = open(t, sqlite.Config{Path: path})
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[coderclaw.StatusPending] != len(written) {
		t.Errorf("%d tasks in the file, %d writes succeeded", counts[coderclaw.StatusPending], len(written))
	}
	for _, id := range written {
		if _, err := s.Task(ctx, id); err != nil {
			t.Errorf("acknowledged task %s: %v", id, err)
		}
	}
}
