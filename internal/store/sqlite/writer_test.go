package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "test.db")
	}
	s, err := Open(context.Background(), cfg)
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

func newTask(id string, at time.Time) coderclaw.Task {
	return coderclaw.Task{ID: id, Input: "x", AgentID: "a", Attempt: 1, MaxAttempts: 3, CreatedAt: at}
}

// hold occupies the writer until the returned release is called, so that
// the writes sent meanwhile queue up and go into one batch.
func hold(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		if !s.enter() {
			done <- store.ErrClosed
			return
		}
		defer s.ops.Done()
		done <- s.write(context.Background(), false, func(*writer) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued waits until n requests wait for the writer. It yields rather
// than sleeps: the senders are runnable goroutines about to send.
func waitQueued(s *Store, n int) {
	for len(s.reqs) < n {
		runtime.Gosched()
	}
}

// TestGroupCommit checks that writes sent while the writer is busy are
// committed together, and that the refused ones in the batch leave no trace
// while the others are applied.
func TestGroupCommit(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	if _, err := s.CreateTask(ctx, newTask("t-0", epoch), "test"); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	release := hold(t, s)

	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i % 3 {
			case 0: // a new task
				_, errs[i] = s.CreateTask(ctx, newTask("t-"+string(rune('a'+i)), epoch.Add(time.Duration(i)*time.Millisecond)), "test")
			case 1: // a duplicate: refused with a conflict
				_, errs[i] = s.CreateTask(ctx, newTask("t-0", epoch), "test")
			case 2: // invalid: pending -> completed
				_, errs[i] = s.Transition(ctx, store.Transition{TaskID: "t-0", To: coderclaw.StatusCompleted, Now: epoch,
					Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "no"}}})
			}
		})
	}
	waitQueued(s, n)
	release()
	wg.Wait()

	after := s.Stats()
	if got := after.Batches - before.Batches; got != 2 {
		t.Errorf("%d batches for the held write and %d queued ones, want 2", got, n)
	}
	if after.LargestBatch < n {
		t.Errorf("largest batch %d, want at least %d", after.LargestBatch, n)
	}
	for i, err := range errs {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
		case 1:
			if coderclaw.ErrorCode(err) != coderclaw.CodeConflict {
				t.Errorf("duplicate create %d: %v, want a conflict", i, err)
			}
		case 2:
			var te *coderclaw.InvalidTransitionError
			if !errors.As(err, &te) {
				t.Errorf("invalid transition %d: %v", i, err)
			}
		}
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[coderclaw.StatusPending] != 1+n/3 {
		t.Errorf("pending %d, want %d", counts[coderclaw.StatusPending], 1+n/3)
	}
	evs, err := s.Events(ctx, "t-0", 0, 0)
	if err != nil || len(evs) != 1 {
		t.Errorf("t-0 events %+v, %v: the refused writes must add none", evs, err)
	}
	all, err := s.EventsSince(ctx, 0, 0)
	if err != nil || len(all) != 1+n/3 {
		t.Errorf("%d events in the store, want %d", len(all), 1+n/3)
	}
}

// TestBatchFailure checks that a request failing for a reason other than a
// refusal (here a panic and a plain error) rolls back its whole batch and
// fails every request in it, and that the writer carries on.
func TestBatchFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*writer) error
	}{
		{"error", func(w *writer) error {
			if _, err := w.write(w.updateAppend, 1, 1, 1, "a"); err != nil { // a write, then a failure
				return err
			}
			return errors.New("disk on fire")
		}},
		{"panic", func(*writer) error { panic("bug") }},
		{"refusal after a write", func(w *writer) error {
			if _, err := w.write(w.updateAppend, 1, 1, 1, "a"); err != nil {
				return err
			}
			return store.ErrLeaseLost
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, Config{})
			ctx := context.Background()
			release := hold(t, s)
			var wg sync.WaitGroup
			var errA, errBad, errB error
			wg.Go(func() { _, errA = s.CreateTask(ctx, newTask("a", epoch), "test") })
			waitQueued(s, 1)
			wg.Go(func() {
				if s.enter() {
					defer s.ops.Done()
					errBad = s.write(ctx, withoutSavepoint, tc.fn)
				}
			})
			waitQueued(s, 2)
			wg.Go(func() { _, errB = s.CreateTask(ctx, newTask("b", epoch), "test") })
			waitQueued(s, 3)
			release()
			wg.Wait()
			for name, err := range map[string]error{"a": errA, "bad": errBad, "b": errB} {
				if err == nil {
					t.Errorf("request %s succeeded in a failed batch", name)
				}
			}
			for _, id := range []string{"a", "b"} {
				if _, err := s.Task(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("task %s after the failed batch: %v, want not found", id, err)
				}
			}
			if all, _ := s.EventsSince(ctx, 0, 0); len(all) != 0 {
				t.Errorf("events left by the failed batch: %+v", all)
			}
			if _, err := s.CreateTask(ctx, newTask("c", epoch), "test"); err != nil {
				t.Errorf("write after the failed batch: %v", err)
			}
		})
	}
}

// TestWriteContext checks both sides of cancellation: a write whose context
// ends while it waits in the queue is abandoned, one the writer has taken is
// applied and reported.
func TestWriteContext(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()

	// Abandoned in the queue.
	release := hold(t, s)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := s.CreateTask(cctx, newTask("queued", epoch), "test")
		errc <- err
	}()
	waitQueued(s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued write: %v, want context.Canceled", err)
	}
	release()
	if _, err := s.Task(ctx, "queued"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("abandoned write was applied: %v", err)
	}

	// Taken: the context ends while the writer runs it.
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	started, unblock := make(chan struct{}), make(chan struct{})
	go func() {
		if !s.enter() {
			errc <- store.ErrClosed
			return
		}
		defer s.ops.Done()
		errc <- s.write(cctx, false, func(w *writer) error {
			close(started)
			<-unblock
			_, err := w.write(w.insertTask, "taken", "", "x", "a", 0, "", "", nil, nil, nil, "", nil, nil, 0, 1, 3, 1, 1, nil)
			return err
		})
	}()
	<-started
	cancel()
	close(unblock)
	if err := <-errc; err != nil {
		t.Fatalf("write cancelled after it was taken: %v, want its outcome (nil)", err)
	}
	if _, err := s.Task(ctx, "taken"); err != nil {
		t.Fatalf("taken write not applied: %v", err)
	}
}
