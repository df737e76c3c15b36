package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/engine"
	"github.com/coderclaw/coderclaw/internal/metrics"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestMain fails the package if a test leaves a goroutine behind: engines,
// servers and client connections all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEngine is a started engine on a SQLite store in a temporary
// directory, observed by m, with three agents: noop (completes at once),
// ask (asks a question and returns the answer) and block (runs until
// cancelled).
func testEngine(t *testing.T) (*engine.Engine, *metrics.Metrics) {
	t.Helper()
	dir := t.TempDir()
	st := nodetest.OpenStore(t, dir)
	m := metrics.New(metrics.Options{Counts: st.Counts})
	reg := agent.NewRegistry()
	for _, a := range []struct {
		info coderclaw.Agent
		ex   agent.Executor
	}{
		{agent.NoopAgent(), agent.Noop{}},
		{coderclaw.Agent{ID: "ask", Kind: "builtin", Available: true, Description: "asks, then returns the answer"},
			agent.ExecutorFunc(func(ctx context.Context, run agent.Run) (string, error) {
				return run.Ask(ctx, "proceed?")
			})},
		{coderclaw.Agent{ID: "block", Kind: "builtin", Available: true, Description: "runs until cancelled"},
			agent.ExecutorFunc(func(ctx context.Context, _ agent.Run) (string, error) {
				<-ctx.Done()
				return "", context.Cause(ctx)
			})},
	} {
		if err := reg.Register(a.info, a.ex); err != nil {
			t.Fatal(err)
		}
	}
	e, err := engine.New(engine.Config{
		Store: st, Agents: reg, NodeID: "metrics-test", WorkDir: filepath.Join(dir, "work"),
		PollInterval: 50 * time.Millisecond, Observer: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop engine: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e, m
}

// serveMetrics serves m's handler on loopback; the server and the default
// client's idle connections (testutil.ScrapeAndCompare uses it) are closed
// at the end of the test.
func serveMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL
}

// scrape fetches the text exposition and returns each sample's value by
// its series as written ("name" or `name{label="v"}`).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: status %d: %s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// follow iterates a task's stream to its end, calling fn for each event.
func follow(t *testing.T, e *engine.Engine, id string, fn func(coderclaw.Event)) coderclaw.Event {
	t.Helper()
	var last coderclaw.Event
	for ev, err := range e.Stream(t.Context(), id, 0) {
		if err != nil {
			t.Fatalf("stream %s: %v", id, err)
		}
		if fn != nil {
			fn(ev)
		}
		last = ev
	}
	return last
}

// TestEngineMetrics drives a real engine through completed, answered and
// cancelled tasks and reads the results through the handler.
func TestEngineMetrics(t *testing.T) {
	e, m := testEngine(t)
	url := serveMetrics(t, m)
	ctx := t.Context()
	submit := func(agentID string) coderclaw.Task {
		t.Helper()
		task, err := e.Submit(ctx, coderclaw.SubmitRequest{Input: "x", AgentID: agentID})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	// Three tasks that complete at once.
	var noops []coderclaw.Task
	for range 3 {
		noops = append(noops, submit("noop"))
	}
	for _, task := range noops {
		if last := follow(t, e, task.ID, nil); last.Status != coderclaw.StatusCompleted {
			t.Fatalf("noop task ended %s", last.Status)
		}
	}

	// A task that waits for an answer: running -> waiting -> running ->
	// completed. While its stream is open, the gauge shows it.
	ask := submit("ask")
	during := -1.0
	last := follow(t, e, ask.ID, func(ev coderclaw.Event) {
		if ev.Type != coderclaw.EventQuestion {
			return
		}
		during = scrape(t, url)["coderclaw_streams_active"]
		if _, err := e.Respond(ctx, ask.ID, "yes"); err != nil {
			t.Fatal(err)
		}
	})
	if last.Status != coderclaw.StatusCompleted {
		t.Fatalf("ask task ended %s", last.Status)
	}
	if during != 1 {
		t.Errorf("coderclaw_streams_active while a stream was open: %v, want 1", during)
	}

	// A task cancelled while it runs.
	block := submit("block")
	last = follow(t, e, block.ID, func(ev coderclaw.Event) {
		if ev.Type == coderclaw.EventStatus && ev.Status == coderclaw.StatusRunning {
			if _, err := e.Cancel(ctx, block.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
	if last.Status != coderclaw.StatusCancelled {
		t.Fatalf("block task ended %s", last.Status)
	}

	// Claims move pending -> running in one write, so planning is never
	// reported; every status has a series from the start.
	const want = `
# HELP coderclaw_transitions_total Tasks that entered a status, by that status (to).
# TYPE coderclaw_transitions_total counter
coderclaw_transitions_total{to="cancelled"} 1
coderclaw_transitions_total{to="completed"} 4
coderclaw_transitions_total{to="failed"} 0
coderclaw_transitions_total{to="pending"} 0
coderclaw_transitions_total{to="planning"} 0
coderclaw_transitions_total{to="running"} 6
coderclaw_transitions_total{to="waiting"} 1
# HELP coderclaw_tasks Tasks in the store by status, read at scrape time.
# TYPE coderclaw_tasks gauge
coderclaw_tasks{status="cancelled"} 1
coderclaw_tasks{status="completed"} 4
coderclaw_tasks{status="failed"} 0
coderclaw_tasks{status="pending"} 0
coderclaw_tasks{status="planning"} 0
coderclaw_tasks{status="running"} 0
coderclaw_tasks{status="waiting"} 0
# HELP coderclaw_queue_depth Tasks waiting to be claimed (status pending), read at scrape time.
# TYPE coderclaw_queue_depth gauge
coderclaw_queue_depth 0
# HELP coderclaw_streams_active Task event streams open on this node.
# TYPE coderclaw_streams_active gauge
coderclaw_streams_active 0
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want),
		"coderclaw_transitions_total", "coderclaw_tasks", "coderclaw_queue_depth", "coderclaw_streams_active"); err != nil {
		t.Error(err)
	}

	got := scrape(t, url)
	for series, v := range map[string]float64{
		"coderclaw_submit_duration_seconds_count":                             5,
		`coderclaw_transition_duration_seconds_count{to="completed"}`:         4,
		`coderclaw_transition_duration_seconds_count{to="waiting"}`:           1,
		`coderclaw_transition_duration_seconds_count{to="cancelled"}`:         1,
		`coderclaw_transition_duration_seconds_bucket{to="failed",le="+Inf"}`: 0,
		"coderclaw_store_commit_batch_size_count":                             0, // the store is not wired here
	} {
		if got[series] != v {
			t.Errorf("%s = %v, want %v", series, got[series], v)
		}
	}
	// One claim write may take several tasks: at least one write, at most
	// one per task, plus the answer's resume.
	if n := got[`coderclaw_transition_duration_seconds_count{to="running"}`]; n < 2 || n > 6 {
		t.Errorf("running transition writes: %v, want 2..6", n)
	}
	if got["coderclaw_submit_duration_seconds_sum"] <= 0 {
		t.Errorf("submit durations sum to %v", got["coderclaw_submit_duration_seconds_sum"])
	}
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds_count", "promhttp_metric_handler_requests_total{code=\"200\"}"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	if _, ok := got["process_cpu_seconds_total"]; !ok && runtime.GOOS == "linux" {
		t.Errorf("process metrics missing from the scrape")
	}
	// The registry is the handler's: collectors read through it agree.
	if n := testutil.CollectAndCount(m.Registry(), "coderclaw_transitions_total"); n != 7 {
		t.Errorf("coderclaw_transitions_total has %d series, want one per status", n)
	}
}

// TestObserveCommit records group commits and reads the histograms.
func TestObserveCommit(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	for _, c := range []struct {
		batch int
		d     time.Duration
	}{{1, 200 * time.Microsecond}, {40, 3 * time.Millisecond}, {512, 40 * time.Millisecond}} {
		m.ObserveCommit(c.batch, c.d)
	}
	got := scrape(t, serveMetrics(t, m))
	for series, v := range map[string]float64{
		"coderclaw_store_commit_batch_size_count":                   3,
		"coderclaw_store_commit_batch_size_sum":                     553,
		`coderclaw_store_commit_batch_size_bucket{le="1"}`:          1,
		`coderclaw_store_commit_batch_size_bucket{le="64"}`:         2,
		`coderclaw_store_commit_batch_size_bucket{le="512"}`:        3,
		"coderclaw_store_commit_duration_seconds_count":             3,
		`coderclaw_store_commit_duration_seconds_bucket{le="+Inf"}`: 3,
		`coderclaw_transitions_total{to="running"}`:                 0,
		`coderclaw_transition_duration_seconds_count{to="running"}`: 0,
	} {
		if got[series] != v {
			t.Errorf("%s = %v, want %v", series, got[series], v)
		}
	}
	if s := got["coderclaw_store_commit_duration_seconds_sum"]; s < 0.0432 || s > 0.0433 {
		t.Errorf("commit durations sum to %v, want 0.0432", s)
	}
	// Without Counts, the scrape-time gauges are left out.
	if _, ok := got[`coderclaw_tasks{status="pending"}`]; ok {
		t.Errorf("coderclaw_tasks exported without Options.Counts")
	}
}

// TestDurationBuckets checks that the duration buckets resolve
// sub-millisecond latencies and reach seconds.
func TestDurationBuckets(t *testing.T) {
	t.Parallel()
	got := scrape(t, serveMetrics(t, metrics.New(metrics.Options{})))
	var les []float64
	for series := range got {
		rest, ok := strings.CutPrefix(series, `coderclaw_submit_duration_seconds_bucket{le="`)
		if !ok || strings.HasPrefix(rest, "+Inf") {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil {
			t.Fatal(err)
		}
		les = append(les, le)
	}
	below := func(limit float64) (n int) {
		for _, le := range les {
			if le <= limit {
				n++
			}
		}
		return n
	}
	if len(les) < 15 || below(1e-3) < 5 || below(50e-6) < 1 || below(10.001) != len(les) || below(5) == len(les) {
		t.Errorf("duration buckets %v: want several below 1ms, one at most 50µs, and the last at 10s", les)
	}
}

// TestCountsFailure: a store that cannot answer leaves the task gauges
// out of the scrape, logs why, and keeps the other metrics; Counts is
// bounded by CountsTimeout.
func TestCountsFailure(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, nil))
	m := metrics.New(metrics.Options{
		Counts: func(ctx context.Context) (map[coderclaw.Status]int, error) {
			<-ctx.Done() // a store that hangs: only the timeout ends the call
			return nil, errors.Join(errors.New("store unreachable"), ctx.Err())
		},
		CountsTimeout: 20 * time.Millisecond,
		Logger:        log,
	})
	m.Submitted(time.Millisecond)
	url := serveMetrics(t, m)
	got := scrape(t, url)
	if _, ok := got[`coderclaw_tasks{status="pending"}`]; ok {
		t.Errorf("coderclaw_tasks exported although Counts failed")
	}
	if _, ok := got["coderclaw_queue_depth"]; ok {
		t.Errorf("coderclaw_queue_depth exported although Counts failed")
	}
	if got["coderclaw_submit_duration_seconds_count"] != 1 {
		t.Errorf("other metrics missing when Counts failed")
	}
	// A scrape counts its own failure after gathering: the next one shows it.
	if n := scrape(t, url)[`promhttp_metric_handler_errors_total{cause="gathering"}`]; n != 1 {
		t.Errorf("gathering errors: %v, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "store unreachable") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestUnknownStatus: a status the build does not know still counts.
func TestUnknownStatus(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{Counts: func(context.Context) (map[coderclaw.Status]int, error) {
		return map[coderclaw.Status]int{coderclaw.StatusPending: 2, "archived": 3}, nil
	}})
	m.Transitioned("archived", 2, time.Millisecond)
	m.Transitioned(coderclaw.StatusRunning, 0, time.Millisecond) // nothing moved: nothing recorded
	got := scrape(t, serveMetrics(t, m))
	for series, v := range map[string]float64{
		`coderclaw_tasks{status="archived"}`:                         3,
		`coderclaw_tasks{status="pending"}`:                          2,
		`coderclaw_tasks{status="running"}`:                          0,
		"coderclaw_queue_depth":                                      2,
		`coderclaw_transitions_total{to="archived"}`:                 2,
		`coderclaw_transition_duration_seconds_count{to="archived"}`: 1,
		`coderclaw_transition_duration_seconds_count{to="running"}`:  0,
	} {
		if got[series] != v {
			t.Errorf("%s = %v, want %v", series, got[series], v)
		}
	}
}

// TestNilMetrics: a nil *Metrics records nothing and serves 404, so a node
// without metrics can pass one as its Observer.
func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	var obs engine.Observer = m
	obs.Submitted(time.Millisecond)
	obs.Transitioned(coderclaw.StatusRunning, 3, time.Millisecond)
	obs.StreamStarted()
	obs.StreamEnded()
	m.ObserveCommit(3, time.Millisecond)
	if m.Registry() != nil {
		t.Errorf("nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler: %d", rec.Code)
	}
}

// TestIndependentRegistries: two Metrics in one process do not share
// state (no global registry).
func TestIndependentRegistries(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
	a.StreamStarted()
	if got := scrape(t, serveMetrics(t, b))["coderclaw_streams_active"]; got != 0 {
		t.Errorf("a's stream shows in b: %v", got)
	}
	if got := scrape(t, serveMetrics(t, a))["coderclaw_streams_active"]; got != 1 {
		t.Errorf("a's stream: %v", got)
	}
}

// BenchmarkObserver measures what the engine's hot paths pay per call.
func BenchmarkObserver(b *testing.B) {
	m := metrics.New(metrics.Options{})
	d := 350 * time.Microsecond
	b.Run("Submitted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Submitted(d)
		}
	})
	b.Run("Transitioned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Transitioned(coderclaw.StatusCompleted, 1, d)
		}
	})
	b.Run("StreamStartedEnded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.StreamStarted()
			m.StreamEnded()
		}
	})
	b.Run("ObserveCommit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveCommit(64, d)
		}
	})
	b.Run("TransitionedParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Transitioned(coderclaw.StatusRunning, 1, d)
			}
		})
	})
	b.Run("Nil", func(b *testing.B) {
		var n *metrics.Metrics
		for b.Loop() {
			n.Transitioned(coderclaw.StatusCompleted, 1, d)
		}
	})
}
