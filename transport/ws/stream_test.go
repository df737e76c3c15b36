package ws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// wantHistory checks that evs are exactly the task's events after
// afterSeq, in order, ending with the terminal one.
func wantHistory(t testing.TB, rt coderclaw.Runtime, id string, afterSeq int64, evs []coderclaw.Event) error {
	hist, err := rt.Events(context.Background(), id)
	if err != nil {
		return fmt.Errorf("events of %s: %w", id, err)
	}
	hist = hist[afterSeq:]
	if len(hist) != len(evs) {
		return fmt.Errorf("task %s: streamed %d events, history has %d", id, len(evs), len(hist))
	}
	for i := range hist {
		if evs[i].Seq != hist[i].Seq || evs[i].Type != hist[i].Type || evs[i].Message != hist[i].Message ||
			evs[i].Position != hist[i].Position || evs[i].Status != hist[i].Status {
			return fmt.Errorf("task %s: event %d is %+v, history %+v", id, i, evs[i], hist[i])
		}
	}
	if len(evs) == 0 || !evs[len(evs)-1].Terminal() {
		return fmt.Errorf("task %s: the stream did not end with the terminal event", id)
	}
	return nil
}

// TestMultiplexing runs 200 streams and unary calls at once over one
// connection: every stream yields every event exactly once, in order.
func TestMultiplexing(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{MaxConcurrentTasks: 16})
	h := NewHandler(n, HandlerOptions{})
	var upgrades atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrades.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { stopServer(t, srv, h) })
	c := dial(t, "ws://"+ln.Addr().String()+DefaultPath)
	ctx := testCtx(t)

	const streams = 200
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Go(func() {
			req := coderclaw.SubmitRequest{AgentID: "noop", Input: fmt.Sprint(i), Project: "mux"}
			if i%10 == 0 {
				req = coderclaw.SubmitRequest{AgentID: "shell", Input: fmt.Sprintf("for j in 1 2 3 4 5 6 7 8; do echo %d-$j; done", i), Project: "mux"}
			}
			task, err := c.Submit(ctx, req)
			if err != nil {
				errs <- fmt.Errorf("submit %d: %w", i, err)
				return
			}
			evs, err := collect(ctx, c, task.ID, 0)
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			if err := wantHistory(t, c, task.ID, 0, evs); err != nil {
				errs <- err
				return
			}
			if got, err := c.Task(ctx, task.ID); err != nil || got.Status != coderclaw.StatusCompleted {
				errs <- fmt.Errorf("task %d: %+v, %v", i, got.Status, err)
				return
			}
			if i%20 == 0 {
				if _, err := c.Status(ctx); err != nil {
					errs <- err
				}
				if _, err := c.Tasks(ctx, coderclaw.Filter{Project: "mux", Limit: 10}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := upgrades.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// smallBuffers shrinks the send buffers of accepted connections, so that a
// client that stops reading blocks the server's writes quickly; grow gives
// them back a loopback's usual size.
type smallBuffers struct {
	net.Listener
	mu    sync.Mutex
	conns []*net.TCPConn
}

func (l *smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
		l.mu.Lock()
		l.conns = append(l.conns, tc)
		l.mu.Unlock()
	}
	return c, err
}

func (l *smallBuffers) grow() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.SetWriteBuffer(4 << 20)
	}
}

// relay is a TCP relay whose server-to-client direction can be paused, as
// a client (or a network) that stops reading would be. It injects a fault
// between real peers; nothing is mocked.
type relay struct {
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	gate  chan struct{} // closed while relaying is allowed
	conns []net.Conn
	ups   []*net.TCPConn
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, done: make(chan struct{}), gate: make(chan struct{})}
	close(r.gate)
	r.wg.Go(r.accept)
	t.Cleanup(r.close)
	return r
}

func (r *relay) accept() {
	for {
		down, err := r.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = down.Close()
			continue
		}
		_ = up.(*net.TCPConn).SetReadBuffer(4 << 10)
		r.mu.Lock()
		r.conns = append(r.conns, down, up)
		r.ups = append(r.ups, up.(*net.TCPConn))
		r.mu.Unlock()
		r.wg.Go(func() {
			_, _ = io.Copy(up, down)
			_ = up.Close()
			_ = down.Close()
		})
		r.wg.Go(func() { r.pipeDown(up, down) })
	}
}

// pipeDown copies from the server to the client while the gate is open.
func (r *relay) pipeDown(up, down net.Conn) {
	defer func() {
		_ = up.Close()
		_ = down.Close()
	}()
	buf := make([]byte, 4<<10)
	for {
		r.mu.Lock()
		gate := r.gate
		r.mu.Unlock()
		select {
		case <-gate:
		case <-r.done:
			return
		}
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := down.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) pause() {
	r.mu.Lock()
	r.gate = make(chan struct{})
	r.mu.Unlock()
}

// resume relays again, with a loopback's usual buffer sizes.
func (r *relay) resume() {
	r.mu.Lock()
	for _, c := range r.ups {
		_ = c.SetReadBuffer(4 << 20)
	}
	close(r.gate)
	r.mu.Unlock()
}

func (r *relay) close() {
	close(r.done)
	_ = r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// TestSlowReader stops the client's connection from reading while tasks
// write many events: the engine keeps completing other tasks, the server's
// subscriptions lag instead of blocking, and once the client reads again
// every stream still yields every event exactly once.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	logs := newLogRecorder()
	h := NewHandler(n, HandlerOptions{
		Logger: slog.New(logs), StreamBuffer: 2, LagTimeout: 20 * time.Millisecond,
		// The pause below must not look like a dead client.
		WriteTimeout: time.Minute, PingInterval: time.Hour,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	small := &smallBuffers{Listener: ln}
	serveOn(t, small, h)
	r := newRelay(t, ln.Addr().String())
	c := dial(t, "ws://"+r.ln.Addr().String()+DefaultPath, WithKeepalive(time.Hour, time.Hour))
	ctx := testCtx(t)

	pad := strings.Repeat("x", 200)
	var ids []string
	for i, lines := range []int{400, 100, 100} {
		task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell",
			Input: fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "%d line $i %s"; i=$((i+1)); done`, lines, i, pad)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	r.pause()
	type result struct {
		id  string
		evs []coderclaw.Event
		err error
	}
	results := make(chan result, len(ids))
	for _, id := range ids {
		go func() {
			evs, err := collect(ctx, c, id, 0)
			results <- result{id, evs, err}
		}()
	}

	// While the client reads nothing, the engine finishes these tasks and
	// others.
	for _, id := range ids {
		if _, err := collect(ctx, n, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := collect(ctx, n, task.ID, 0)
		if err != nil || evs[len(evs)-1].Status != coderclaw.StatusCompleted {
			t.Fatalf("task %d while the client is stuck: %v", i, err)
		}
	}
	logs.waitFor(t, ctx, "ws: subscription lagged")
	small.grow()
	r.resume()

	for range ids {
		res := <-results
		if res.err != nil {
			t.Fatalf("stream %s: %v", res.id, res.err)
		}
		if err := wantHistory(t, n, res.id, 0, res.evs); err != nil {
			t.Fatal(err)
		}
	}
	if c.lags.Load() == 0 {
		t.Errorf("the client saw no lagged frame; server logs:\n%s", logs.text())
	}
	t.Logf("%d lags on the server, %d lagged frames seen by the client", logs.count("ws: subscription lagged"), c.lags.Load())
}

// TestSlowConsumer holds one stream's caller while others run on the same
// Client: they finish, and the held stream, whose client-side buffer
// overflowed, still yields every event exactly once when released.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	c := dial(t, serve(t, NewHandler(n, HandlerOptions{})), WithStreamBuffer(2))
	ctx := testCtx(t)
	slow, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell",
		Input: `i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done`})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var evs []coderclaw.Event
		for ev, err := range c.Stream(ctx, slow.ID, 0) {
			if err != nil {
				done <- err
				return
			}
			if len(evs) == 0 {
				<-release
			}
			evs = append(evs, ev)
		}
		done <- wantHistory(t, n, slow.ID, 0, evs)
	}()
	// The slow task finishes, and other streams of the connection flow.
	if _, err := collect(ctx, n, slow.ID, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: fmt.Sprintf("echo %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := collect(ctx, c, task.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := wantHistory(t, n, task.ID, 0, evs); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.overflows.Load() == 0 {
		t.Error("the slow stream never overflowed its buffer")
	}
}

// TestStreamBreakUnsubscribes breaks out of a stream early: the node's
// subscription ends while the task goes on.
func TestStreamBreakUnsubscribes(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	logs := newLogRecorder()
	c := dial(t, serve(t, NewHandler(n, HandlerOptions{Logger: slog.New(logs)})))
	ctx := testCtx(t)
	task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range c.Stream(ctx, task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq == 2 {
			break
		}
	}
	logs.waitFor(t, ctx, "ws: subscription ended")
	if st, err := c.Task(ctx, task.ID); err != nil || st.Status.Terminal() {
		t.Fatalf("task %+v, %v: want it still going", st.Status, err)
	}
	if _, err := c.Cancel(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
}

// TestNodeRestart stops the server and the node in the middle of a stream
// and starts a new node on the same directory and address: the Client
// reconnects and the stream goes on to the terminal event without gap or
// duplicate.
func TestNodeRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := nodetest.Options{Dir: dir, NodeID: "restart-node", StopGrace: 100 * time.Millisecond}
	n1 := nodetest.Start(t, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	h1 := NewHandler(n1, HandlerOptions{})
	srv1 := startServer(ln, h1)
	c := dial(t, "ws://"+addr+DefaultPath, WithReconnect(10*time.Millisecond, 200*time.Millisecond, time.Minute))
	ctx := testCtx(t)
	task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}

	var n2 *nodetest.Node
	var evs []coderclaw.Event
	for ev, err := range c.Stream(ctx, task.ID, 0) {
		if err != nil {
			t.Fatalf("stream after %d events: %v", len(evs), err)
		}
		if ev.Seq != int64(len(evs))+1 {
			t.Fatalf("seq %d after %d events", ev.Seq, len(evs))
		}
		evs = append(evs, ev)
		if ev.Type != coderclaw.EventQuestion {
			continue
		}
		// Take everything down, then bring a new node up on the same
		// directory and address, and answer there.
		stopServer(t, srv1, h1)
		n1.Stop(t)
		n2 = nodetest.Start(t, opts)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		serveOn(t, ln2, NewHandler(n2, HandlerOptions{}))
		if _, err := n2.Respond(ctx, task.ID, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if n2 == nil {
		t.Fatal("the task asked nothing")
	}
	if err := wantHistory(t, n2, task.ID, 0, evs); err != nil {
		t.Fatal(err)
	}
	// Unary calls use the new connection too.
	final, err := c.Task(ctx, task.ID)
	if err != nil || final.Status != coderclaw.StatusCompleted || !strings.HasSuffix(final.Output, "two bob") {
		t.Fatalf("final task %+v, %v", final, err)
	}
	if !slices.ContainsFunc(evs, func(ev coderclaw.Event) bool { return ev.Type == coderclaw.EventInput && ev.Message == "bob" }) {
		t.Errorf("no input event among %d events", len(evs))
	}
}

// BenchmarkSubmitToFirstEvent measures the time from Submit to the first
// event of the task's stream over loopback, and reports its percentiles.
func BenchmarkSubmitToFirstEvent(b *testing.B) {
	n := nodetest.New(b)
	c := dial(b, serve(b, NewHandler(n, HandlerOptions{})))
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range c.Stream(ctx, task.ID, 0) {
			if err != nil {
				b.Fatal(err)
			}
			break
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
