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

// BenchmarkLifecycle runs whole task lifecycles from many goroutines at
// once, as a busy node does, and reports completed lifecycles per second.
// Each goroutine creates claim tasks, claims up to claim tasks in one call
// and completes each with its output: per task one CreateTask, one
// Transition and 1/claim of a Claim, and four event rows (pending, planning,
// running, completed). claim=1 is the worst case, every executor claiming
// alone; the engine's scheduler claims all its free slots at once. The
// parallelism is the number of goroutines per GOMAXPROCS.
func BenchmarkLifecycle(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, claim := range []int{1, 8} {
			for _, par := range []int{4, 32, 128, 512} {
				b.Run(fmt.Sprintf("sync=%s/claim=%d/goroutines=%d", sync, claim, par*2), func(b *testing.B) {
					benchLifecycle(b, sqlite.Config{Synchronous: sync}, par, claim)
				})
			}
		}
	}
}

func benchLifecycle(b *testing.B, cfg sqlite.Config, par, claim int) {
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	s := open(b, cfg)
	ctx := context.Background()
	var done, worker atomic.Int64
	out := "ok"
	b.SetParallelism(par)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		owner := fmt.Sprintf("worker-%d", worker.Add(1))
		for pb.Next() {
			now := time.Now()
			for range claim {
				if _, err := s.CreateTask(ctx, benchTask(now), "bench"); err != nil {
					b.Error(err)
					return
				}
			}
			got, err := s.Claim(ctx, store.Claim{Owner: owner, Limit: claim, Now: now, LeaseUntil: now.Add(time.Minute), Actor: "bench"})
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
	cpu := processCPU() - cpu0
	st := s.Stats()
	b.ReportMetric(float64(done.Load())/b.Elapsed().Seconds(), "tasks/s")
	if n := done.Load(); n > 0 && cpu > 0 {
		// CPU time of the whole process (store, callers, GC) per task:
		// steadier than tasks/s on a shared machine.
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/task")
	}
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Requests)/float64(st.Batches), "reqs/batch")
		b.ReportMetric(float64(st.LargestBatch), "max-batch")
	}
	b.ReportMetric(float64(st.Busy)/float64(b.Elapsed())*100, "writer-busy-%")
	b.ReportMetric(float64(st.Committing)/float64(b.Elapsed())*100, "in-commit-%")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCommit measures one write at a time: each op is a CreateTask
// alone in its transaction, so ns/op is the latency of one commit
// (with synchronous=FULL, one fsync of the WAL).
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
