package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/audit/audittest"
	"github.com/coderclaw/coderclaw/internal/store"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// auditHarness opens a store in a new temporary directory and a second,
// independent database/sql handle on the same file for the tamper tests.
func auditHarness(t *testing.T, cfg sqlite.Config) audittest.Harness {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "coderclaw.db")
	s := open(t, cfg)
	return audittest.Harness{Store: s.AuditLog(), Exec: rawExec(t, cfg.Path)}
}

// rawExec opens the database file directly, as someone with access to it
// would, and returns a function running one statement on it.
func rawExec(t *testing.T, path string) func(ctx context.Context, query string) error {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("open %s directly: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return func(ctx context.Context, query string) error {
		_, err := db.ExecContext(ctx, query)
		return err
	}
}

func TestAuditExercise(t *testing.T) {
	audittest.Exercise(t, func(t *testing.T) audittest.Harness { return auditHarness(t, sqlite.Config{}) })
}

// TestAuditExerciseSmallBatches runs the suite with batches of at most two
// requests and one reader, so batch boundaries fall everywhere.
func TestAuditExerciseSmallBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	audittest.Exercise(t, func(t *testing.T) audittest.Harness {
		return auditHarness(t, sqlite.Config{MaxBatch: 2, ReadConns: 1, Synchronous: "normal"})
	})
}

// TestAuditAppendLarge appends more records in one call than one INSERT
// carries, so that every INSERT size is used.
func TestAuditAppendLarge(t *testing.T) {
	t.Parallel()
	s := open(t, sqlite.Config{}).AuditLog()
	ctx := t.Context()
	for _, n := range []int{1, 2, 3, 63, 64, 65, 127, 200} {
		es := make([]audit.Entry, n)
		for i := range es {
			es[i] = audit.Entry{Action: "task.read", UserID: fmt.Sprintf("u%d", i), Result: audit.ResultAllowed}
		}
		if _, err := s.Append(ctx, es); err != nil {
			t.Fatalf("Append of %d: %v", n, err)
		}
	}
	rep, err := audit.Verify(ctx, s)
	if err != nil || !rep.OK() || rep.Records != 1+2+3+63+64+65+127+200 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// TestAuditWithTaskWrites interleaves audit appends with task writes of
// the same writer: each kind's refusals and batches leave the other intact.
func TestAuditWithTaskWrites(t *testing.T) {
	t.Parallel()
	st := open(t, sqlite.Config{MaxBatch: 8})
	log := st.AuditLog()
	ctx := t.Context()
	var wg sync.WaitGroup
	var appended atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				now := time.Now()
				task, err := st.CreateTask(ctx, benchTask(now), "test")
				if err != nil {
					t.Error(err)
					return
				}
				// A refused task write in the same batches.
				if _, err := st.Transition(ctx, store.Transition{TaskID: "no-such-task", To: coderclaw.StatusCancelled,
					Actor: "test", Now: now}); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Transition of an unknown task: %v", err)
				}
				if _, err := log.Append(ctx, []audit.Entry{{Action: "task.submit", UserID: fmt.Sprintf("u%d", g),
					ResourceType: "task", ResourceID: task.ID, Result: audit.ResultOK, Reason: fmt.Sprint(i)}}); err != nil {
					t.Error(err)
					return
				}
				appended.Add(1)
			}
		})
	}
	wg.Wait()
	rep, err := audit.Verify(ctx, log)
	if err != nil || !rep.OK() || rep.Records != appended.Load() {
		t.Fatalf("Verify: %+v, %v; want %d records intact", rep, err, appended.Load())
	}
	counts, err := st.Counts(ctx)
	if err != nil || counts["pending"] != int(appended.Load()) {
		t.Fatalf("Counts = %v, %v", counts, err)
	}
}

// TestAuditNoCredentialInFile plants credentials in every field, then
// reads the database file and its WAL byte by byte: none may be there.
func TestAuditNoCredentialInFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "coderclaw.db")
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		"Bearer-abcdefghijklmnop-0123456789",
		"ghp_0123456789abcdefghijABCDEFGHIJ012345",
		"correct-horse-battery-staple",
	}
	var es []audit.Entry
	for _, text := range []string{
		"Authorization: Bearer " + secrets[0],
		"pushed with " + secrets[1],
		`{"password": "` + secrets[2] + `"}`,
	} {
		es = append(es, audit.Entry{Action: "auth.login", UserID: text, SessionID: text, DeviceID: text,
			ResourceType: text, ResourceID: text, Result: audit.ResultDenied, Reason: text})
	}
	if _, err := s.AuditLog().Append(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	walBytes := readIfExists(t, path+"-wal") // before Close checkpoints it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"wal": walBytes, "db": readIfExists(t, path), "wal after close": readIfExists(t, path+"-wal")}
	for name, b := range files {
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("the %s file contains the credential %q", name, sec)
			}
		}
	}
	if !bytes.Contains(files["db"], []byte(audit.Redacted)) && !bytes.Contains(walBytes, []byte(audit.Redacted)) {
		t.Error("no redacted record found in the files: the test did not look where the records are")
	}
}

func readIfExists(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return b
}

func TestAuditClosed(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	log := st.AuditLog()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := log.Append(ctx, []audit.Entry{{Action: "a", Result: audit.ResultOK}}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := log.Query(ctx, audit.Query{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Query after Close: %v", err)
	}
	if err := log.Scan(ctx, 1, func(audit.Record) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Scan after Close: %v", err)
	}
	if _, err := log.Anchor(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Anchor after Close: %v", err)
	}
}

// TestAuditLoggerOnSQLite records through a Logger from many goroutines.
func TestAuditLoggerOnSQLite(t *testing.T) {
	t.Parallel()
	log := open(t, sqlite.Config{}).AuditLog()
	l, err := audit.New(audit.Config{Store: log, Secrets: []string{"node-shared-token-xyz"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				e := audit.Entry{Action: "task.read", UserID: fmt.Sprintf("u%d", g), Result: audit.ResultAllowed,
					Reason: "presented node-shared-token-xyz"}
				var err error
				if i%2 == 0 {
					err = l.Record(ctx, e)
				} else {
					err = l.Post(ctx, e)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	rep, err := audit.Verify(ctx, log)
	if err != nil || !rep.OK() || rep.Records != 640 || st.Appended != 640 || st.Failed != 0 {
		t.Fatalf("Verify: %+v, %v; stats %+v; want 640 records", rep, err, st)
	}
	t.Logf("640 entries in %d appends", st.Batches)
	err = log.Scan(ctx, 1, func(r audit.Record) error {
		if bytes.Contains([]byte(r.Reason), []byte("node-shared-token-xyz")) {
			return fmt.Errorf("record %d carries the node's token: %q", r.Seq, r.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAuditAppend measures audit appends from many goroutines at
// once. Each op is one Append of batch entries (batch=1 is the worst case,
// a caller appending alone; the Logger appends whatever is queued) through
// the writer, in group-commit batches with the other callers'.
func BenchmarkAuditAppend(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{1, 16, 256} {
			for _, par := range []int{1, 16} {
				b.Run(fmt.Sprintf("sync=%s/batch=%d/goroutines=%d", sync, batch, par*2), func(b *testing.B) {
					benchAuditAppend(b, sqlite.Config{Synchronous: sync}, par, batch)
				})
			}
		}
	}
}

func benchAuditAppend(b *testing.B, cfg sqlite.Config, par, batch int) {
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	st := open(b, cfg)
	log := st.AuditLog()
	ctx := context.Background()
	var done, g atomic.Int64
	b.SetParallelism(par)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprintf("user-%d", g.Add(1))
		es := make([]audit.Entry, batch)
		for pb.Next() {
			for i := range es {
				es[i] = audit.Entry{Action: "task.submit", UserID: user, SessionID: "sess-" + user, DeviceID: "laptop",
					ResourceType: "task", ResourceID: "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", Result: audit.ResultAllowed,
					Reason: "role developer grants task:submit"}
			}
			if _, err := log.Append(ctx, es); err != nil {
				b.Error(err)
				return
			}
			done.Add(int64(batch))
		}
	})
	b.StopTimer()
	cpu := processCPU() - cpu0
	s := st.Stats()
	b.ReportMetric(float64(done.Load())/b.Elapsed().Seconds(), "records/s")
	if n := done.Load(); n > 0 && cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n)/1000, "cpu-µs/record")
	}
	if s.Batches > 0 {
		b.ReportMetric(float64(s.Requests)/float64(s.Batches), "reqs/batch")
	}
	b.ReportMetric(float64(s.Busy)/float64(b.Elapsed())*100, "writer-busy-%")
}

// BenchmarkAuditLogger measures the Logger's Record (waiting for
// durability) from many goroutines: what a request pays to be audited.
func BenchmarkAuditLogger(b *testing.B) {
	for _, par := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", par*2), func(b *testing.B) {
			st := open(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db")})
			l, err := audit.New(audit.Config{Store: st.AuditLog()})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := l.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Record(ctx, audit.Entry{Action: "task.read", UserID: "alice", SessionID: "sess-1",
						ResourceType: "task", ResourceID: "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", Result: audit.ResultAllowed}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			cpu := processCPU() - cpu0
			if err := l.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			ls := l.Stats()
			b.ReportMetric(float64(ls.Appended)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(ls.Appended)/1000, "cpu-µs/record")
			b.ReportMetric(float64(ls.Appended)/float64(ls.Batches), "records/append")
		})
	}
}

// BenchmarkAuditVerify measures Verify walking a log of 20,000 records:
// each op is one whole walk.
func BenchmarkAuditVerify(b *testing.B) {
	const n = 20000
	log := open(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db"), Synchronous: "normal"}).AuditLog()
	ctx := context.Background()
	es := make([]audit.Entry, 500)
	for i := range es {
		es[i] = audit.Entry{Action: "task.read", UserID: "alice", SessionID: "sess-1", ResourceType: "task",
			ResourceID: "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", Result: audit.ResultAllowed, Reason: "role developer grants task:read"}
	}
	for range n / len(es) {
		if _, err := log.Append(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := audit.Verify(ctx, log)
		if err != nil || !rep.OK() || rep.Records != n {
			b.Fatalf("Verify: %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
