package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

const unknownTask = "0190a0f8-0000-7000-8000-000000000000"

// askTask asks a question and finishes once answered.
const askTask = `echo one; echo '::ask::more?'; read x; echo "two $x"`

// rawConn opens a WebSocket to url without the Client, closed at the end
// of the test.
func rawConn(t *testing.T, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	ws, _, err := websocket.Dial(testCtx(t), url, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, HTTPHeader: hdr,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func sendText(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.Write(testCtx(t), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write %s: %v", s, err)
	}
}

// readReply reads the next frame, which must be a well-formed server frame.
func readReply(t *testing.T, ws *websocket.Conn) reply {
	t.Helper()
	typ, b, err := ws.Read(testCtx(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v", typ)
	}
	r, err := decodeReply(b)
	if err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return r
}

// wantErrorFrame reads the next frame and checks it is an error frame.
func wantErrorFrame(t *testing.T, ws *websocket.Conn, id reqID, code coderclaw.Code, msg string) {
	t.Helper()
	r := readReply(t, ws)
	if r.Kind != replyError || r.ID != id || r.Err.Code != code || !strings.Contains(r.Err.Message, msg) {
		t.Fatalf("got %+v (error %+v), want an error frame with id %s, code %s and a message containing %q", r, r.Err, id, code, msg)
	}
}

// TestBadInput sends frames the protocol refuses and checks each is
// answered with the right error frame on a connection that stays usable.
func TestBadInput(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	ws := rawConn(t, serve(t, NewHandler(n, HandlerOptions{})), nil)
	for _, tc := range []struct {
		frame string
		id    reqID
		code  coderclaw.Code
		msg   string
	}{
		{`{not json`, "", coderclaw.CodeInvalid, "malformed JSON in frame at line 1, column 2"},
		{`{"id":1,"method":"frobnicate"}`, "1", coderclaw.CodeInvalid, `unknown method "frobnicate"`},
		{`{"id":2,"method":"task","params":{"task_id":5}}`, "2", coderclaw.CodeInvalid, "params.task_id: want a string, got JSON number"},
		{`{"id":3,"method":"submit","params":{"input":"x","agent_id":"noop","Priority":2}}`, "3", coderclaw.CodeInvalid, `unknown field "Priority"`},
		{`{"id":4,"method":"subscribe","params":{"task_id":"x","after_seq":1.5}}`, "4", coderclaw.CodeInvalid, "params.after_seq: want an integer"},
		{`{"id":"q","method":"submit","params":{"input":"x","agent_id":"no-such-agent"}}`, `"q"`, coderclaw.CodeInvalid, "no-such-agent"},
		{`{"id":5,"method":"task","params":{"task_id":"` + unknownTask + `"}}`, "5", coderclaw.CodeNotFound, unknownTask},
		{`{"id":6,"method":"cancel","params":{"task_id":"` + unknownTask + `"}}`, "6", coderclaw.CodeNotFound, "not found"},
		{`{"id":"s","method":"subscribe","params":{"task_id":"` + unknownTask + `","after_seq":0}}`, `"s"`, coderclaw.CodeNotFound, "not found"},
		{`{"id":7,"method":"unsubscribe","params":{"subscription":"nope"}}`, "7", coderclaw.CodeNotFound, `no live subscription "nope"`},
	} {
		sendText(t, ws, tc.frame)
		wantErrorFrame(t, ws, tc.id, tc.code, tc.msg)
	}
	if err := ws.Write(testCtx(t), websocket.MessageBinary, []byte(`{"id":8,"method":"status"}`)); err != nil {
		t.Fatal(err)
	}
	wantErrorFrame(t, ws, "", coderclaw.CodeInvalid, "binary messages")

	// Still usable.
	sendText(t, ws, `{"id":9,"method":"status"}`)
	r := readReply(t, ws)
	var st coderclaw.NodeStatus
	if r.Kind != replyResult || r.ID != "9" || json.Unmarshal(r.Result, &st) != nil || st.NodeID == "" {
		t.Fatalf("status after errors: %+v", r)
	}
}

// TestSubscriptionIDs checks that a live subscription's id cannot be
// reused, that unsubscribe ends it and frees the id, and that a finished
// subscription ends with an end frame.
func TestSubscriptionIDs(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	logs := newLogRecorder()
	ws := rawConn(t, serve(t, NewHandler(n, HandlerOptions{Logger: slog.New(logs)})), nil)
	ctx := testCtx(t)
	task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
	if err != nil {
		t.Fatal(err)
	}
	sub := fmt.Sprintf(`{"id":"live","method":"subscribe","params":{"task_id":%q,"after_seq":0}}`, task.ID)
	sendText(t, ws, sub)
	next := int64(1)
	for {
		r := readReply(t, ws)
		if r.Kind != replyEvent || r.ID != `"live"` || r.Event.Seq != next {
			t.Fatalf("frame %+v, want event %d of \"live\"", r, next)
		}
		next++
		if r.Event.Status == coderclaw.StatusWaiting {
			break
		}
	}
	sendText(t, ws, sub)
	wantErrorFrame(t, ws, `"live"`, coderclaw.CodeInvalid, "live subscription")
	sendText(t, ws, `{"id":1,"method":"unsubscribe","params":{"subscription":"live"}}`)
	if r := readReply(t, ws); r.Kind != replyResult || r.ID != "1" || string(r.Result) != "{}" {
		t.Fatalf("unsubscribe answer %+v", r)
	}
	logs.waitFor(t, ctx, "ws: subscription ended")

	// The task goes on; the ended subscription sends nothing, and its id
	// is free: resubscribing from where it stopped ends with an end frame.
	if _, err := n.Respond(ctx, task.ID, "x"); err != nil {
		t.Fatal(err)
	}
	for _, err := range n.Stream(ctx, task.ID, next-1) {
		if err != nil {
			t.Fatal(err)
		}
	}
	sendText(t, ws, fmt.Sprintf(`{"id":"live","method":"subscribe","params":{"task_id":%q,"after_seq":%d}}`, task.ID, next-1))
	for {
		r := readReply(t, ws)
		if r.ID != `"live"` {
			t.Fatalf("frame %+v", r)
		}
		if r.Kind == replyEnd {
			break
		}
		if r.Kind != replyEvent || r.Event.Seq != next {
			t.Fatalf("frame %+v, want event %d", r, next)
		}
		next++
	}
	hist, err := n.Events(ctx, task.ID)
	if err != nil || int64(len(hist)) != next-1 {
		t.Fatalf("history has %d events (%v), the subscriptions delivered %d", len(hist), err, next-1)
	}
	// From the terminal event on: an end frame at once.
	sendText(t, ws, fmt.Sprintf(`{"id":2,"method":"subscribe","params":{"task_id":%q,"after_seq":%d}}`, task.ID, next-1))
	if r := readReply(t, ws); r.Kind != replyEnd || r.ID != "2" {
		t.Fatalf("subscription after the end: %+v", r)
	}
}

// TestOversizedMessage checks that a message beyond the limit closes the
// connection with status 1009, and that the Client refuses such a request
// itself, keeping its connection.
func TestOversizedMessage(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	url := serve(t, NewHandler(n, HandlerOptions{MaxMessageBytes: 1024}))
	ws := rawConn(t, url, nil)
	sendText(t, ws, `{"id":1,"method":"status"}`)
	if r := readReply(t, ws); r.Kind != replyResult {
		t.Fatalf("status: %+v", r)
	}
	big := fmt.Sprintf(`{"id":2,"method":"submit","params":{"agent_id":"noop","input":%q}}`, strings.Repeat("x", 2000))
	sendText(t, ws, big)
	_, _, err := ws.Read(testCtx(t))
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("after an oversized message: %v, want a close with status 1009", err)
	}

	c := dial(t, url)
	_, err = c.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "noop", Input: strings.Repeat("x", 2000)})
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInvalid || !strings.Contains(ce.Message, "message limit of 1024 bytes") {
		t.Fatalf("oversized submit: %v", err)
	}
	if _, err := c.Status(testCtx(t)); err != nil {
		t.Fatalf("status after a refused submit: %v", err)
	}
}

// TestHandshakeRefusals checks the JSON answers to requests that are not
// accepted handshakes, and the Client's errors for them.
func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	h := NewHandler(n, HandlerOptions{OriginPatterns: []string{"*.example.com", "[bad"}})
	url := serve(t, h)
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}

	resp, err := hc.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	wantErrorBody(t, resp, http.StatusUpgradeRequired, coderclaw.CodeInvalid, "WebSocket only")

	ctx := testCtx(t)
	_, err = Dial(ctx, url, WithHeader(http.Header{"Origin": {"https://evil.test"}}), WithHTTPClient(hc))
	wantCode(t, "foreign origin", err, coderclaw.CodeForbidden)
	if !strings.Contains(err.Error(), "evil.test") {
		t.Errorf("message %q does not name the origin", err)
	}
	c, err := Dial(ctx, url, WithHeader(http.Header{"Origin": {"https://app.example.com"}}))
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = Dial(ctx, strings.TrimSuffix(url, DefaultPath)+"/elsewhere", WithHTTPClient(hc))
	wantCode(t, "wrong path", err, coderclaw.CodeNotFound)

	_, err = Dial(ctx, "ftp://host/x")
	wantCode(t, "bad scheme", err, coderclaw.CodeInvalid)
	_, err = Dial(ctx, url, WithReconnect(time.Second, time.Millisecond, 0))
	wantCode(t, "bad option", err, coderclaw.CodeInvalid)

	// Nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + ln.Addr().String() + DefaultPath
	_ = ln.Close()
	_, err = Dial(ctx, dead)
	wantCode(t, "nothing listens", err, coderclaw.CodeUnavailable)
	if want := "no CoderClaw node answers at " + dead + ": connection refused"; err.Error() != "unavailable: "+want {
		t.Errorf("error %q, want %q", err, want)
	}
	// An address without a path gets the default one.
	_, err = Dial(ctx, strings.TrimSuffix(dead, DefaultPath))
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Errorf("error %v does not name %s", err, dead)
	}

	// After Shutdown, handshakes are refused with 503.
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = Dial(ctx, url, WithHTTPClient(hc))
	wantCode(t, "after shutdown", err, coderclaw.CodeUnavailable)
}

func wantCode(t *testing.T, what string, err error, code coderclaw.Code) {
	t.Helper()
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != code || ce.Message == "" {
		t.Fatalf("%s: error %v (%T), want a *coderclaw.Error with code %s", what, err, err, code)
	}
}

func wantErrorBody(t *testing.T, resp *http.Response, status int, code coderclaw.Code, msg string) {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var body errorBody
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(b, &body) != nil || body.Error == nil || body.Error.Code != code || !strings.Contains(body.Error.Message, msg) {
		t.Fatalf("answer %s %q %s, want %d with a JSON %s error containing %q", resp.Status, resp.Header.Get("Content-Type"), b, status, code, msg)
	}
}

// TestServerClosesDeadConnections opens a connection that never reads, so
// never answers pings: the server closes it.
func TestServerClosesDeadConnections(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	logs := newLogRecorder()
	h := NewHandler(n, HandlerOptions{Logger: slog.New(logs), PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond})
	rawConn(t, serve(t, h), nil) // never read
	ctx := testCtx(t)
	logs.waitFor(t, ctx, "ws: client does not answer pings, connection closed")
	logs.waitFor(t, ctx, "ws: connection closed")
	if got := h.connections(); got != 0 {
		t.Errorf("%d connections left", got)
	}
}

// TestClientClosesDeadConnections serves a WebSocket that never reads, so
// never answers the Client's pings: the Client drops the connection.
func TestClientClosesDeadConnections(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	served := make(chan struct{})
	mute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer close(served)
		<-release
		_ = ws.CloseNow()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(ln, mute)
	t.Cleanup(func() {
		close(release)
		<-served
		srv.Close()
	})
	c := dial(t, "ws://"+ln.Addr().String()+DefaultPath, WithKeepalive(20*time.Millisecond, 50*time.Millisecond))
	cc, err := c.current()
	if err != nil || cc == nil {
		t.Fatalf("no connection: %v", err)
	}
	select {
	case <-cc.ctx.Done():
	case <-testCtx(t).Done():
		t.Fatal("the Client kept a connection that answers no ping")
	}
	if cause := context.Cause(cc.ctx); !strings.Contains(cause.Error(), "did not answer a ping") {
		t.Errorf("connection ended by %v", cause)
	}
}

// blockingStatus is the node with a Status that waits for its context to
// end, to hold a call in flight while the connection is cut.
type blockingStatus struct {
	coderclaw.Runtime
	entered chan struct{}
}

func (b blockingStatus) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return coderclaw.NodeStatus{}, ctx.Err()
}

// TestCallInFlightLost cuts the connection while a call waits for its
// answer: the call fails with unavailable, and the next call reconnects.
func TestCallInFlightLost(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	rt := blockingStatus{Runtime: n, entered: make(chan struct{}, 1)}
	h := NewHandler(rt, HandlerOptions{})
	c := dial(t, serve(t, h))
	ctx := testCtx(t)
	errs := make(chan error, 1)
	go func() {
		_, err := c.Status(ctx)
		errs <- err
	}()
	<-rt.entered
	h.mu.Lock()
	for sc := range h.conns {
		sc.fail(errors.New("cut by the test"))
	}
	h.mu.Unlock()
	err := <-errs
	wantCode(t, "call in flight", err, coderclaw.CodeUnavailable)
	if !strings.Contains(err.Error(), "may or may not have taken effect") {
		t.Errorf("message %q", err)
	}
	if _, err := c.Agents(ctx); err != nil {
		t.Fatalf("call after the loss: %v", err)
	}
}

// TestOutlivesServerTimeouts mounts the handler on an http.Server with
// short read and write timeouts, as a node's server has: a connection
// lives far longer (net/http clears a hijacked connection's deadlines;
// the connection's keepalive and per-frame deadlines replace them).
func TestOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	h := NewHandler(n, HandlerOptions{PingInterval: 20 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(DefaultPath, h)
	srv := &http.Server{Handler: mux, ReadTimeout: 100 * time.Millisecond,
		ReadHeaderTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})

	// Count the server's pings, each 20ms apart, until well past the
	// timeouts, then use the connection.
	pings := make(chan struct{}, 100)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	ws, _, err := websocket.Dial(testCtx(t), "ws://"+ln.Addr().String()+DefaultPath, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr},
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	frames := make(chan reply, 1)
	readErr := make(chan error, 1)
	go func() {
		_, b, err := ws.Read(context.Background())
		if err != nil {
			readErr <- err
			return
		}
		r, err := decodeReply(b)
		if err != nil {
			readErr <- err
			return
		}
		frames <- r
	}()
	start := time.Now()
	for got := 0; got < 15 || time.Since(start) < 300*time.Millisecond; got++ {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("connection cut after %v and %d pings: %v", time.Since(start), got, err)
		}
	}
	sendText(t, ws, `{"id":1,"method":"status"}`)
	select {
	case r := <-frames:
		if r.Kind != replyResult || r.ID != "1" {
			t.Fatalf("answer %+v", r)
		}
	case err := <-readErr:
		t.Fatalf("read: %v", err)
	}
}

// TestStreamLimit checks that a connection holds at most MaxStreamsPerConn
// subscriptions, that the refusal is unavailable, and that ending one makes
// room; a Client's stream refused so retries until it gets in.
func TestStreamLimit(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	url := serve(t, NewHandler(n, HandlerOptions{MaxStreamsPerConn: 2}))
	ws := rawConn(t, url, nil)
	ctx := testCtx(t)
	var ids []string
	for range 3 {
		task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
		t.Cleanup(func() { _, _ = n.Cancel(context.Background(), task.ID) })
	}
	subscribe := func(id int, task string) {
		sendText(t, ws, fmt.Sprintf(`{"id":%d,"method":"subscribe","params":{"task_id":%q,"after_seq":0}}`, id, task))
	}
	subscribe(1, ids[0])
	subscribe(2, ids[1])
	subscribe(3, ids[2])
	// Frames of the two live subscriptions may come first.
	for {
		r := readReply(t, ws)
		if r.Kind == replyEvent && (r.ID == "1" || r.ID == "2") {
			continue
		}
		if r.Kind != replyError || r.ID != "3" || r.Err.Code != coderclaw.CodeUnavailable || !strings.Contains(r.Err.Message, "limit") {
			t.Fatalf("third subscription: %+v %+v", r, r.Err)
		}
		break
	}

	// A Client whose connection is full: its third stream is refused,
	// retries, and gets in once another stream ends.
	logs := newLogRecorder()
	c := dial(t, url, WithReconnect(5*time.Millisecond, 20*time.Millisecond, time.Minute), WithLogger(slog.New(logs)))
	type result struct {
		task string
		err  error
	}
	live := make(chan struct{}, 2)
	results := make(chan result, 3)
	follow := func(task string, signal bool) {
		var evs []coderclaw.Event
		for ev, err := range c.Stream(ctx, task, 0) {
			if err != nil {
				results <- result{task, err}
				return
			}
			evs = append(evs, ev)
			if signal && ev.Status == coderclaw.StatusWaiting {
				live <- struct{}{}
			}
		}
		results <- result{task, wantHistory(t, n, task, 0, evs)}
	}
	go follow(ids[0], true)
	go follow(ids[1], true)
	<-live
	<-live
	go follow(ids[2], false)
	logs.waitFor(t, ctx, "ws: stream resubscribes") // refused: the connection is full
	for _, id := range ids {
		if _, err := n.Respond(ctx, id, "x"); err != nil {
			t.Fatal(err)
		}
	}
	for range ids {
		if r := <-results; r.err != nil {
			t.Fatalf("stream %s: %v", r.task, r.err)
		}
	}
}
