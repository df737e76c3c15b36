package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
	"github.com/google/uuid"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestZZWriter measures the writer's CPU cost per lifecycle without clients.
func TestZZWriter(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if x := os.Getenv("ZZSQL"); x != "" {
		if _, err := s.w.conn.ExecContext(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	const per, rounds = 128, 60
	out := "ok"
	var reqs []*request
	build := func() {
		reqs = reqs[:0]
		now := time.Now()
		claimed := make([][]taskRow, per)
		for i := range per {
			tk := coderclaw.Task{ID: uuid.Must(uuid.NewV7()).String(), Input: "x", AgentID: "a", Attempt: 1, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now}
			args := []any{tk.ID, tk.Description, tk.Input, tk.AgentID, 0, "", "", nil, nil, nil, "", nil, nil, 0, 1, 3, now.UnixNano(), now.UnixNano()}
			ev := []coderclaw.Event{{TaskID: tk.ID, Seq: 1, Time: now, Type: "status", Status: "pending", Actor: "a", Message: "created"}}
			reqs = append(reqs, &request{done: make(chan struct{}), fn: func(w *writer) error {
				if _, err := w.write(w.insertTask, args...); err != nil {
					return err
				}
				w.queueEvents(ev, false)
				return nil
			}})
			c := store.Claim{Owner: "o", Limit: 1, Now: now, LeaseUntil: now.Add(time.Minute)}
			reqs = append(reqs, &request{done: make(chan struct{}), fn: func(w *writer) error {
				var err error
				claimed[i], err = w.claimTasks(&c)
				return err
			}})
			reqs = append(reqs, &request{done: make(chan struct{}), fn: func(w *writer) error {
				for _, r := range claimed[i] {
					var row taskRow
					tr := store.Transition{TaskID: r.t.ID, To: coderclaw.StatusCompleted, Attempt: 1, Output: &out, Now: now, Message: "completed"}
					if err := w.transition(&tr, &row); err != nil {
						return err
					}
				}
				return nil
			}})
		}
	}
	var total time.Duration
	for range rounds {
		build()
		c0 := cpuTime()
		s.commit(reqs)
		total += cpuTime() - c0
		for _, r := range reqs {
			if r.err != nil {
				t.Fatal(r.err)
			}
		}
	}
	per1 := total / (per * rounds)
	t.Logf("writer CPU per lifecycle: %v => %.0f lifecycles/s per core", per1, float64(time.Second)/float64(per1))
}
