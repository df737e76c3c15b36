package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/audit/audittest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// gatedStore wraps a store: while gated, each Append announces itself on
// entered and waits for release; it records the size of every Append.
type gatedStore struct {
	audit.Store
	entered chan int
	release chan struct{}
	fail    error

	mu    sync.Mutex
	sizes []int
}

func newGated(s audit.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan int, 100), release: make(chan struct{})}
}

func (g *gatedStore) Append(ctx context.Context, es []audit.Entry) ([]audit.Record, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(es))
	g.mu.Unlock()
	g.entered <- len(es)
	<-g.release
	if g.fail != nil {
		return nil, g.fail
	}
	return g.Store.Append(ctx, es)
}

func newLogger(t *testing.T, cfg audit.Config) *audit.Logger {
	t.Helper()
	l, err := audit.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := l.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return l
}

func ent(action string) audit.Entry {
	return audit.Entry{Action: action, UserID: "alice", Result: audit.ResultAllowed}
}

func TestLoggerRecordIsDurable(t *testing.T) {
	t.Parallel()
	m := &audittest.Memory{}
	l := newLogger(t, audit.Config{Store: m, Now: func() time.Time { return testTime }})
	for i := range 3 {
		if err := l.Record(t.Context(), ent("task.read")); err != nil {
			t.Fatal(err)
		}
		// Once Record returns, the record is stored.
		page, err := m.Query(t.Context(), audit.Query{})
		if err != nil || len(page.Records) != i+1 {
			t.Fatalf("after Record %d the store has %v, %v", i+1, page.Records, err)
		}
		if !page.Records[0].Time.Equal(testTime) {
			t.Errorf("a zero time became %v, want the clock's %v", page.Records[0].Time, testTime)
		}
	}
}

// TestLoggerBatches: entries queued while an append is in flight go in the
// next append together.
func TestLoggerBatches(t *testing.T) {
	t.Parallel()
	g := newGated(&audittest.Memory{})
	l := newLogger(t, audit.Config{Store: g, MaxBatch: 8})
	if err := l.Post(t.Context(), ent("first")); err != nil {
		t.Fatal(err)
	}
	if n := <-g.entered; n != 1 {
		t.Fatalf("first append of %d entries, want 1", n)
	}
	// The flusher is inside Append: these queue.
	for range 20 {
		if err := l.Post(t.Context(), ent("queued")); err != nil {
			t.Fatal(err)
		}
	}
	close(g.release)
	if err := l.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if want := []int{1, 8, 8, 4}; !equalInts(g.sizes, want) {
		t.Errorf("append sizes %v, want %v", g.sizes, want)
	}
	if st := l.Stats(); st.Appended != 21 || st.Batches != 4 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoggerLifecycle(t *testing.T) {
	t.Parallel()
	l, err := audit.New(audit.Config{Store: &audittest.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(t.Context(), ent("early")); !errors.Is(err, audit.ErrStopped) {
		t.Errorf("Record before Start: %v, want ErrStopped", err)
	}
	if err := l.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(t.Context()); err == nil {
		t.Error("a second Start: no error")
	}
	if err := l.Post(t.Context(), ent("queued")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.Stop(t.Context()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if st := l.Stats(); st.Appended != 1 {
		t.Errorf("Stop did not flush the queued entry: %+v", st)
	}
	if err := l.Post(t.Context(), ent("late")); !errors.Is(err, audit.ErrStopped) {
		t.Errorf("Post after Stop: %v, want ErrStopped", err)
	}
	if err := l.Start(t.Context()); err == nil {
		t.Error("Start after Stop: no error")
	}

	never, err := audit.New(audit.Config{Store: &audittest.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Stop(t.Context()); err != nil {
		t.Errorf("Stop of a logger never started: %v", err)
	}
}

func TestLoggerInvalidEntry(t *testing.T) {
	t.Parallel()
	l := newLogger(t, audit.Config{Store: &audittest.Memory{}})
	for _, e := range []audit.Entry{{Action: "x", Result: "maybe"}, {Result: audit.ResultOK}} {
		err := l.Record(t.Context(), e)
		var ce *coderclaw.Error
		if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInvalid {
			t.Errorf("Record(%+v): %v, want code invalid", e, err)
		}
	}
}

func TestLoggerStoreFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk full")
	g := newGated(&audittest.Memory{})
	g.fail = boom
	close(g.release)
	l := newLogger(t, audit.Config{Store: g})
	if err := l.Record(t.Context(), ent("a")); !errors.Is(err, boom) {
		t.Errorf("Record on a failing store: %v, want its error", err)
	}
	if err := l.Post(t.Context(), ent("b")); err != nil {
		t.Errorf("Post: %v", err)
	}
	if err := l.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Failed != 2 || st.Appended != 0 {
		t.Errorf("stats %+v, want 2 failed", st)
	}
}

func TestLoggerRecordContext(t *testing.T) {
	t.Parallel()
	g := newGated(&audittest.Memory{})
	l := newLogger(t, audit.Config{Store: g})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- l.Record(ctx, ent("slow")) }()
	<-g.entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Record whose context ends during the append: %v", err)
	}
	stopCtx, stopCancel := context.WithCancel(t.Context())
	stopCancel()
	if err := l.Stop(stopCtx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop with an ended context while an append hangs: %v", err)
	}
	close(g.release)
	if err := l.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The entry was queued, so it is written all the same.
	if st := l.Stats(); st.Appended != 1 {
		t.Errorf("stats %+v, want the entry written", st)
	}
}

// TestLoggerNoCredentialIsWritten fails if a token reaches any record
// through the Logger: the node's shared token (a configured secret, which
// has no recognisable form) and credentials recognised by form or key.
func TestLoggerNoCredentialIsWritten(t *testing.T) {
	t.Parallel()
	const nodeToken = "plain-node-token-7f3a"
	tokens := []string{nodeToken, "ghp_0123456789abcdefghijABCDEFGHIJ012345", "hunter2hunter2", "abc.def.ghi-jkl"}
	texts := []string{
		"Authorization: Bearer " + nodeToken,
		"presented " + nodeToken + " from 10.0.0.7",
		"git push with " + tokens[1],
		`{"user":"bob","password":"` + tokens[2] + `"}`,
		"bearer " + tokens[3],
		"token=" + tokens[3],
	}
	m := &audittest.Memory{}
	l := newLogger(t, audit.Config{Store: m, Secrets: []string{nodeToken}})
	for _, text := range texts {
		e := audit.Entry{Action: "auth.login", UserID: text, SessionID: text, DeviceID: text, ResourceType: "token",
			ResourceID: text, Result: audit.ResultDenied, Reason: text}
		if err := l.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := m.Scan(t.Context(), 1, func(r audit.Record) error {
		n++
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		for _, tok := range tokens {
			if strings.Contains(string(b), tok) {
				t.Errorf("record %d carries the token %q: %s", r.Seq, tok, b)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(texts) {
		t.Fatalf("%d records, want %d", n, len(texts))
	}
}

func TestNewBadConfig(t *testing.T) {
	t.Parallel()
	m := &audittest.Memory{}
	for _, tc := range []struct {
		cfg   audit.Config
		field string
	}{
		{audit.Config{}, "Store"},
		{audit.Config{Store: m, MaxBatch: -1}, "MaxBatch"},
		{audit.Config{Store: m, QueueSize: -1}, "QueueSize"},
		{audit.Config{Store: m, Secrets: []string{"ok", ""}}, "Secrets[1]"},
	} {
		_, err := audit.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v): %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}

func TestDecision(t *testing.T) {
	t.Parallel()
	p := coderclaw.Principal{UserID: "alice", SessionID: "s1", DeviceID: "d1", Roles: []string{"developer"}}
	for _, tc := range []struct {
		err            error
		result, reason string
	}{
		{nil, audit.ResultAllowed, ""},
		{coderclaw.Errorf(coderclaw.CodeForbidden, "role developer lacks config:write"), audit.ResultDenied, "role developer lacks config:write"},
		{coderclaw.Errorf(coderclaw.CodeUnauthenticated, "invalid token"), audit.ResultDenied, "invalid token"},
		{coderclaw.Errorf(coderclaw.CodeNotFound, "no task x"), audit.ResultDenied, "no task x"},
		{errors.New("policy file unreadable: /etc/x"), audit.ResultError, "internal error"},
	} {
		e := audit.Decision(p, "config.write", "config", "security.yaml", tc.err)
		want := audit.Entry{Action: "config.write", UserID: "alice", SessionID: "s1", DeviceID: "d1",
			ResourceType: "config", ResourceID: "security.yaml", Result: tc.result, Reason: tc.reason}
		if e != want {
			t.Errorf("Decision(%v) = %+v, want %+v", tc.err, e, want)
		}
	}
}

// TestLingerCoalescesPosts: posts lingering for more share the append of a
// Record that follows them, and the Record, whose caller waits, ends the
// linger at once (an hour here: the test would time out).
func TestLingerCoalescesPosts(t *testing.T) {
	store := &audittest.Memory{}
	l, err := audit.New(audit.Config{Store: store, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Post(ctx, audit.Entry{Action: "a", Result: audit.ResultOK, ResourceID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The hour-long linger would hold the posts; the Record ends it.
	if err := l.Record(ctx, audit.Entry{Action: "b", Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Appended != 6 || st.Batches != 1 {
		t.Errorf("stats %+v, want 6 entries in 1 batch", st)
	}
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSyncWaitsForPosts: Sync ends a linger and returns once everything
// posted before it is appended.
func TestSyncWaitsForPosts(t *testing.T) {
	store := &audittest.Memory{}
	l, err := audit.New(audit.Config{Store: store, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Post(ctx, audit.Entry{Action: "a", Result: audit.ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := store.Query(ctx, audit.Query{})
	if err != nil || len(page.Records) != 3 {
		t.Errorf("after Sync: %d records, %v", len(page.Records), err)
	}
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); !errors.Is(err, audit.ErrStopped) {
		t.Errorf("Sync after Stop: %v", err)
	}
}
