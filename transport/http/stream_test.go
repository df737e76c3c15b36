package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// askTask asks a question and finishes once answered.
const askTask = `echo one; echo '::ask::more?'; read x; echo "two $x"`

// cancelAtEnd cancels a task that a test leaves unfinished, before the node
// stops (which would give a running task its grace period).
func cancelAtEnd(t *testing.T, rt coderclaw.Runtime, id string) {
	t.Cleanup(func() {
		_, err := rt.Cancel(context.Background(), id)
		if err != nil && coderclaw.ErrorCode(err) != coderclaw.CodeConflict {
			t.Errorf("cancel %s: %v", id, err)
		}
	})
}

// openStream opens a raw event stream of a task.
func openStream(t *testing.T, hc *http.Client, base, id, lastEventID, query string) (*http.Response, *sseParser) {
	t.Helper()
	u := base + taskPath(id) + "/stream"
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %s %q: %s", resp.Status, resp.Header.Get("Content-Type"), b)
	}
	return resp, newSSEParser(resp.Body, maxFrameBytes)
}

// nextEvent reads the next frame, which must be a task event consistent
// with its id and type fields.
func nextEvent(t *testing.T, p *sseParser) coderclaw.Event {
	t.Helper()
	f, err := p.Next()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var ev coderclaw.Event
	if err := json.Unmarshal([]byte(f.Data), &ev); err != nil {
		t.Fatalf("frame %v: %v", f, err)
	}
	if !f.HasID || f.ID != strconv.FormatInt(ev.Seq, 10) || f.Event != string(ev.Type) {
		t.Fatalf("frame %v does not match its event %+v", f, ev)
	}
	return ev
}

// wantStreamEnd checks that a raw stream has ended: the body is closed
// without a further frame.
func wantStreamEnd(t *testing.T, p *sseParser) {
	t.Helper()
	if f, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the terminal event: frame %v, error %v; want the end of the body", f, err)
	}
}

// followUntil streams through rt until pred holds and returns the events.
func followUntil(t *testing.T, rt coderclaw.Runtime, id string, pred func(coderclaw.Event) bool) []coderclaw.Event {
	t.Helper()
	var evs []coderclaw.Event
	for ev, err := range rt.Stream(testCtx(t), id, 0) {
		if err != nil {
			t.Fatalf("stream %s: %v", id, err)
		}
		evs = append(evs, ev)
		if pred(ev) {
			return evs
		}
	}
	t.Fatalf("stream %s ended before the awaited event", id)
	return nil
}

func isQuestion(ev coderclaw.Event) bool { return ev.Type == coderclaw.EventQuestion }

// wantHistory checks that evs are exactly the task's history.
func wantHistory(t *testing.T, rt coderclaw.Runtime, id string, evs []coderclaw.Event) {
	t.Helper()
	hist, err := rt.Events(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(evs) {
		t.Fatalf("got %d events, history has %d", len(evs), len(hist))
	}
	for i := range hist {
		if evs[i].Seq != hist[i].Seq || evs[i].Type != hist[i].Type || evs[i].Message != hist[i].Message || evs[i].Position != hist[i].Position {
			t.Fatalf("event %d: got %+v, history %+v", i, evs[i], hist[i])
		}
	}
	if !evs[len(evs)-1].Terminal() {
		t.Fatalf("last event %+v is not terminal", evs[len(evs)-1])
	}
}

// TestStreamResumeMidStream drops a stream in the middle of a task and
// resumes it with Last-Event-ID: the continuation is exact.
func TestStreamResumeMidStream(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	base, _ := serve(t, NewHandler(n, HandlerOptions{}))
	hc := rawClient(t)
	task, err := n.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	resp, p := openStream(t, hc, base, task.ID, "", "")
	var evs []coderclaw.Event
	for len(evs) == 0 || !isQuestion(evs[len(evs)-1]) {
		ev := nextEvent(t, p)
		if ev.Seq != int64(len(evs))+1 {
			t.Fatalf("seq %d after %d events", ev.Seq, len(evs))
		}
		evs = append(evs, ev)
	}
	_ = resp.Body.Close()
	if _, err := n.Respond(testCtx(t), task.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	// The header wins over the query parameter.
	last := evs[len(evs)-1].Seq
	_, p = openStream(t, hc, base, task.ID, strconv.FormatInt(last, 10), "after=0")
	for !evs[len(evs)-1].Terminal() {
		ev := nextEvent(t, p)
		if ev.Seq != evs[len(evs)-1].Seq+1 {
			t.Fatalf("resumed stream: seq %d after %d", ev.Seq, evs[len(evs)-1].Seq)
		}
		evs = append(evs, ev)
	}
	wantStreamEnd(t, p)
	wantHistory(t, n, task.ID, evs)

	// The query parameter alone, from the middle of the finished task.
	_, p = openStream(t, hc, base, task.ID, "", "after="+strconv.FormatInt(last, 10))
	for _, want := range evs[last:] {
		if ev := nextEvent(t, p); ev.Seq != want.Seq || ev.Message != want.Message {
			t.Fatalf("after=%d: event %+v, want %+v", last, ev, want)
		}
	}
	wantStreamEnd(t, p)

	// From the terminal event on, nothing follows: an end event, then the
	// end of the body.
	_, p = openStream(t, hc, base, task.ID, strconv.FormatInt(evs[len(evs)-1].Seq, 10), "")
	if f, err := p.Next(); err != nil || f.Event != sseEnd {
		t.Fatalf("after the terminal event: frame %v, %v; want an end event", f, err)
	}
	wantStreamEnd(t, p)
}

// smallBuffers makes accepted connections' send buffers small, so that a
// reader that stops reading blocks the server's writes quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// TestSlowReader opens a stream that never reads a byte while a task
// writes a lot: the engine and other tasks go on, and the stuck handler
// ends by its write deadline.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	logs := newLogRecorder()
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serveOn(t, smallBuffers{ln}, NewHandler(n, HandlerOptions{
		Logger: slog.New(logs), WriteTimeout: 300 * time.Millisecond,
	}), ServerOptions{})
	c := newClient(t, base)
	ctx := testCtx(t)

	pad := strings.Repeat("x", 400)
	big, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell",
		Input: `echo start; i=0; while [ $i -lt 3000 ]; do echo "line $i ` + pad + `"; i=$((i+1)); done; echo '::ask::done?'; read x`})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s/stream HTTP/1.1\r\nHost: test\r\n\r\n", taskPath(big.ID)); err != nil {
		t.Fatal(err)
	}

	// Other work completes while the reader is stuck.
	for i := range 5 {
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		evs := followUntil(t, c, task.ID, coderclaw.Event.Terminal)
		if st := evs[len(evs)-1].Status; st != coderclaw.StatusCompleted {
			t.Fatalf("task %d ended %s", i, st)
		}
	}
	// The big task itself got all its output written.
	evs := followUntil(t, c, big.ID, isQuestion)
	if len(evs) < 3000 {
		t.Fatalf("big task: %d events", len(evs))
	}
	if _, err := c.Respond(ctx, big.ID, "yes"); err != nil {
		t.Fatal(err)
	}

	// The stuck handler ends on its own, by its write deadline, while the
	// connection is still open.
	for {
		select {
		case r := <-logs.notify:
			if r.Message != "http: stream ended" || strings.Contains(fmt.Sprint(attrErr(r)), "<nil>") {
				continue
			}
			if err := attrErr(r); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Logf("a stream ended by %v", err)
				continue
			}
			return
		case <-ctx.Done():
			t.Fatalf("the stuck handler did not end; logs:\n%s", logs.text())
		}
	}
}

// TestVanishedClient checks that a client that disappears mid-stream ends
// its handler and the stream's producer: no goroutine is left.
func TestVanishedClient(t *testing.T) {
	n := nodetest.New(t)
	base, _ := serve(t, NewHandler(n, HandlerOptions{}))
	c := newClient(t, base)
	task, err := c.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	followUntil(t, c, task.ID, func(ev coderclaw.Event) bool { return ev.Status == coderclaw.StatusWaiting })
	c.CloseIdleConnections()
	before := goleak.IgnoreCurrent()

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, base+taskPath(task.ID)+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	nextEvent(t, newSSEParser(resp.Body, maxFrameBytes)) // the handler is streaming
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

// TestClientReconnect closes the server in the middle of a stream and
// starts a new one on the same address: the Client's stream resumes with
// no gap and no duplicate.
func TestClientReconnect(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	h := NewHandler(n, HandlerOptions{})
	var streams atomic.Int32
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stream") {
			streams.Add(1)
		}
		h.ServeHTTP(w, r)
	})
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	first := NewServer(counted, ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- first.Serve(ln) }()
	c := newClient(t, "http://"+addr)
	ctx := testCtx(t)
	task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}

	var evs []coderclaw.Event
	for ev, err := range c.Stream(ctx, task.ID, 0) {
		if err != nil {
			t.Fatalf("stream after %d events: %v", len(evs), err)
		}
		if ev.Seq != int64(len(evs))+1 {
			t.Fatalf("seq %d after %d events", ev.Seq, len(evs))
		}
		evs = append(evs, ev)
		if !isQuestion(ev) {
			continue
		}
		// Cut every connection, then come back on the same address and
		// let the task go on.
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		serveOn(t, ln2, counted, ServerOptions{})
		if _, err := n.Respond(ctx, task.ID, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	wantHistory(t, n, task.ID, evs)
	if got := streams.Load(); got < 2 {
		t.Errorf("%d stream requests, want a reconnection", got)
	}
	if final, err := c.Task(ctx, task.ID); err != nil || final.Output != "one\ntwo bob" {
		t.Errorf("final task %+v, %v", final, err)
	}
}

// TestShutdownEndsStreams checks that Shutdown does not wait for open
// streams, and that they end without an end event, so clients resume.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(NewHandler(n, HandlerOptions{}), ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	task, err := n.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	cancelAtEnd(t, n, task.ID)
	_, p := openStream(t, rawClient(t), base, task.ID, "", "")
	nextEvent(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for {
		f, err := p.Next()
		if err != nil {
			break
		}
		if f.Event == sseEnd || f.Event == sseError {
			t.Fatalf("shutdown sent %v: clients would not resume", f)
		}
	}
}

// TestStreamOutlivesReadTimeout checks that the server's ReadTimeout does
// not cut a stream that lasts longer.
func TestStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serveOn(t, ln, NewHandler(n, HandlerOptions{StreamHeartbeat: 20 * time.Millisecond}),
		ServerOptions{ReadTimeout: 100 * time.Millisecond, ReadHeaderTimeout: 100 * time.Millisecond})
	task, err := n.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := openStream(t, rawClient(t), base, task.ID, "", "")
	br := bufio.NewReader(resp.Body)
	// Heartbeats are comments: count them off the wire until well past
	// the read timeout.
	start, beats, last := time.Now(), 0, int64(0)
	for beats < 10 || time.Since(start) < 300*time.Millisecond {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream cut after %v and %d heartbeats: %v", time.Since(start), beats, err)
		}
		switch {
		case strings.HasPrefix(line, ": heartbeat"):
			beats++
		case strings.HasPrefix(line, "id: "):
			last, _ = strconv.ParseInt(strings.TrimSpace(line[4:]), 10, 64)
		}
	}
	if _, err := n.Respond(testCtx(t), task.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	p := newSSEParser(br, maxFrameBytes)
	for {
		ev := nextEvent(t, p)
		if ev.Seq != last+1 {
			t.Fatalf("seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		if ev.Terminal() {
			break
		}
	}
	wantStreamEnd(t, p)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	base, _ := serve(t, NewHandler(n, HandlerOptions{Version: "v9"}))
	hc := rawClient(t)
	get := func() (int, healthBody) {
		resp, err := hc.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var b healthBody
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, b := get(); code != 200 || b.Status != "ok" || b.Version != "v9" || b.Error != nil {
		t.Fatalf("healthy node: %d %+v", code, b)
	}
	n.Stop(t) // the store is closed
	code, b := get()
	if code != http.StatusServiceUnavailable || b.Status != "unavailable" || b.Error == nil || b.Error.Code != coderclaw.CodeUnavailable {
		t.Fatalf("stopped node: %d %+v", code, b)
	}
	if b.Error != nil && !strings.Contains(b.Error.Message, "store") {
		t.Errorf("message %q does not name the store", b.Error.Message)
	}
}

// TestClientStreamContext checks that a stream ends with ctx's error when
// ctx ends, and that breaking out of the loop stops it.
func TestClientStreamContext(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	base, _ := serve(t, NewHandler(n, HandlerOptions{}))
	c := newClient(t, base)
	task, err := c.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	cancelAtEnd(t, n, task.ID)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var evs, errs int
	for _, err := range c.Stream(ctx, task.ID, 0) {
		if err != nil {
			errs++
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			continue
		}
		evs++
		cancel()
	}
	if evs != 1 || errs != 1 {
		t.Errorf("%d events and %d errors after cancel, want 1 and 1", evs, errs)
	}
	for range c.Stream(testCtx(t), task.ID, 0) {
		break
	}
}
