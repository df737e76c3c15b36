package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

func benchTask(now time.Time) coderclaw.Task {
	return coderclaw.Task{
		ID: uuid.Must(uuid.NewV7()).String(), Description: "benchmark", Input: "echo hello",
		AgentID: "shell", Attempt: 1, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now,
	}
}

// BenchmarkLifecycle runs whole task lifecycles (create, claim, complete
// with output: three write requests and four event rows) from many
// goroutines at once, as a busy node does, and reports completed
// lifecycles per second.
func BenchmarkLifecycle(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, par := range []int{4, 32, 128} {
			b.Run(fmt.Sprintf("sync=%s/goroutines=%d", sync, par*2), func(b *testing.B) {
				benchLifecycle(b, sqlite.Config{Synchronous: sync}, par)
			})
		}
	}
}

func benchLifecycle(b *testing.B, cfg sqlite.Config, par int) {
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	s := open(b, cfg)
	ctx := context.Background()
	var done, worker atomic.Int64
	out := "ok"
	b.SetParallelism(par)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		owner := fmt.Sprintf("worker-%d", worker.Add(1))
		for pb.Next() {
			now := time.Now()
			if _, err := s.CreateTask(ctx, benchTask(now), "bench"); err != nil {
				b.Error(err)
				return
			}
			got, err := s.Claim(ctx, store.Claim{Owner: owner, Limit: 1, Now: now, LeaseUntil: now.Add(time.Minute), Actor: "bench"})
			if err != nil {
				b.Error(err)
				return
			}
			for _, t := range got {
				_, err := s.Transition(ctx, store.Transition{TaskID: t.ID, To: coderclaw.StatusCompleted, Attempt: t.Attempt,
					Output: &out, Actor: "bench", Message: "completed", Now: time.Now()})
				if err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		}
	})
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(done.Load())/b.Elapsed().Seconds(), "tasks/s")
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Requests)/float64(st.Batches), "reqs/batch")
		b.ReportMetric(float64(st.LargestBatch), "max-batch")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCommit measures one write at a time: each op is a CreateTask
// alone in its transaction, so ns/op is the latency of one commit.
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := open(b, sqlite.Config{Synchronous: sync, Path: filepath.Join(b.TempDir(), "bench.db")})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.CreateTask(ctx, benchTask(time.Now()), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/commit")
		})
	}
}
