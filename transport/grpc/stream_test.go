package grpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
	"github.com/coderclaw/coderclaw/gen/coderclaw/v1/coderclawv1connect"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// askTask asks a question and finishes once answered.
const askTask = `echo one; echo '::ask::more?'; read x; echo "two $x"`

// wireStream is a fake node that answers each StreamEvents call with the
// next script, to inject faults a real node does not make. It records the
// after_seq of each call.
type wireStream struct {
	coderclawv1connect.UnimplementedRuntimeServiceHandler
	mu      sync.Mutex
	scripts []func(send func(*pb.Event) error) error
	afters  []int64
	// refuse, if set, answers every call without accepting the stream.
	refuse error
}

func (w *wireStream) StreamEvents(_ context.Context, req *connect.Request[pb.StreamEventsRequest], st *connect.ServerStream[pb.StreamEventsResponse]) error {
	w.mu.Lock()
	w.afters = append(w.afters, req.Msg.GetAfterSeq())
	var script func(func(*pb.Event) error) error
	if len(w.scripts) > 0 {
		script, w.scripts = w.scripts[0], w.scripts[1:]
	}
	w.mu.Unlock()
	if script == nil {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("no script left"))
	}
	if w.refuse != nil {
		return w.refuse // before accepting, as a node shutting down does
	}
	// Accept the stream as the Handler does.
	st.ResponseHeader().Set(streamOpenHeader, "open")
	if err := st.Send(nil); err != nil {
		return err
	}
	return script(func(ev *pb.Event) error { return st.Send(&pb.StreamEventsResponse{Event: ev}) })
}

func (w *wireStream) afterSeqs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.afters)
}

// sends returns a script that sends events and then ends with err; the
// error errAbort aborts the handler, which cuts the stream without a status.
func sends(err error, evs ...*pb.Event) func(func(*pb.Event) error) error {
	return func(send func(*pb.Event) error) error {
		for _, ev := range evs {
			if err := send(ev); err != nil {
				return err
			}
		}
		if errors.As(err, new(errAbort)) {
			panic(http.ErrAbortHandler)
		}
		return err
	}
}

// errAbort makes a script abort its handler.
type errAbort struct{}

func (errAbort) Error() string { return "abort" }

func logEv(seq int64) *pb.Event {
	return &pb.Event{TaskId: "t", Seq: seq, Type: "log", Message: fmt.Sprint("line ", seq)}
}
func doneEv(seq int64) *pb.Event {
	return &pb.Event{TaskId: "t", Seq: seq, Type: "status", Status: "completed", Data: `{"k":[1,2]}`}
}

// TestStreamWire checks the Client's stream against scripted faults over
// every protocol: resumption after a cut or an unavailable node with the
// right after_seq, no retry before the node accepted the stream, and
// refusal of gaps, repeats and foreign events.
func TestStreamWire(t *testing.T) {
	t.Parallel()
	unavailable := connect.NewError(connect.CodeUnavailable, errors.New("node is shutting down"))
	cases := []struct {
		name    string
		after   int64
		refuse  error
		scripts []func(func(*pb.Event) error) error
		seqs    []int64
		afters  []int64
		code    coderclaw.Code
		msg     string
	}{
		{name: "resume after unavailable", scripts: sends2(sends(unavailable, logEv(1), logEv(2)), sends(nil, logEv(3), doneEv(4), logEv(5))),
			seqs: []int64{1, 2, 3, 4}, afters: []int64{0, 2}},
		{name: "resume after a cut", after: 5, scripts: sends2(sends(errAbort{}, logEv(6)), sends(errAbort{}), sends(nil, logEv(7), doneEv(8))),
			seqs: []int64{6, 7, 8}, afters: []int64{5, 6, 6}},
		{name: "cut before any event", scripts: sends2(sends(errAbort{}), sends(nil, doneEv(1))),
			seqs: []int64{1}, afters: []int64{0, 0}},
		{name: "unavailable before accepting", refuse: unavailable, scripts: sends2(sends(nil, doneEv(1))), afters: []int64{0},
			code: coderclaw.CodeUnavailable, msg: "node is shutting down"},
		{name: "end without a terminal event", after: 9, scripts: sends2(sends(nil)), afters: []int64{9}},
		{name: "gap", scripts: sends2(sends(nil, logEv(1), logEv(3))), seqs: []int64{1}, afters: []int64{0},
			code: coderclaw.CodeInternal, msg: "event 3 of task t arrived after event 1"},
		{name: "repeat after a reconnection", scripts: sends2(sends(unavailable, logEv(1), logEv(2)), sends(nil, logEv(2))),
			seqs: []int64{1, 2}, afters: []int64{0, 2}, code: coderclaw.CodeInternal, msg: "gap or a repeat"},
		{name: "another task's event", scripts: sends2(sends(nil, &pb.Event{TaskId: "u", Seq: 1})), afters: []int64{0},
			code: coderclaw.CodeInternal, msg: "of task u"},
		{name: "data not JSON", scripts: sends2(sends(nil, &pb.Event{TaskId: "t", Seq: 1, Data: "{"})), afters: []int64{0},
			code: coderclaw.CodeInternal, msg: "not JSON"},
		{name: "other errors end the stream", scripts: sends2(sends(connect.NewError(connect.CodePermissionDenied, errors.New("no")), logEv(1))),
			seqs: []int64{1}, afters: []int64{0}, code: coderclaw.CodeForbidden, msg: "no"},
	}
	for _, p := range protocols() {
		for _, tc := range cases {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ws := &wireStream{scripts: tc.scripts, refuse: tc.refuse}
				_, h := coderclawv1connect.NewRuntimeServiceHandler(ws)
				c := newClient(t, serveHandler(t, h, nil), p)
				var seqs []int64
				var err error
				for ev, e := range c.Stream(testCtx(t), "t", tc.after) {
					if e != nil {
						err = e
						break
					}
					seqs = append(seqs, ev.Seq)
					if ev.Terminal() && string(ev.Data) != `{"k":[1,2]}` {
						t.Errorf("data %q", ev.Data)
					}
				}
				if !slices.Equal(seqs, tc.seqs) {
					t.Errorf("seqs %v, want %v", seqs, tc.seqs)
				}
				if got := ws.afterSeqs(); !slices.Equal(got, tc.afters) {
					t.Errorf("after_seq of each call %v, want %v", got, tc.afters)
				}
				if tc.code == "" {
					if err != nil {
						t.Errorf("error %v", err)
					}
					return
				}
				var ce *coderclaw.Error
				if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
					t.Errorf("error %v, want code %s with %q", err, tc.code, tc.msg)
				}
			})
		}
	}
}

func sends2(s ...func(func(*pb.Event) error) error) []func(func(*pb.Event) error) error { return s }

// streamItem is one value of a stream handed from the goroutine that
// iterates it.
type streamItem struct {
	ev  coderclaw.Event
	err error
}

// consume iterates a stream in its own goroutine and hands its values
// over, so the test goroutine can act between events; the goroutine ends
// with ctx.
func consume(ctx context.Context, rt coderclaw.Runtime, id string, after int64) <-chan streamItem {
	items := make(chan streamItem)
	go func() {
		defer close(items)
		for ev, err := range rt.Stream(ctx, id, after) {
			select {
			case items <- streamItem{ev, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return items
}

// countStreams wraps h to count StreamEvents calls.
func countStreams(h http.Handler, n *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/StreamEvents") {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// TestStreamSurvivesNodeRestart stops a node (server and engine) in the
// middle of a Client's stream, lets the client find nothing listening,
// then starts the node again on the same directory and address: the stream
// resumes with no gap and no duplicate, up to the terminal event, whether
// the task was waiting (kept) or running (requeued) when the node stopped.
func TestStreamSurvivesNodeRestart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		input   func(dir string) string
		trigger func(coderclaw.Event) bool
		after   func(t *testing.T, n *nodetest.Node, id, dir string)
		check   func(t *testing.T, final coderclaw.Task, evs []coderclaw.Event)
	}{{
		name:    "waiting",
		input:   func(string) string { return askTask },
		trigger: func(ev coderclaw.Event) bool { return ev.Status == coderclaw.StatusWaiting },
		after: func(t *testing.T, n *nodetest.Node, id, _ string) {
			if _, err := n.Respond(testCtx(t), id, "bob"); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, final coderclaw.Task, _ []coderclaw.Event) {
			if final.Output != "one\ntwo bob" {
				t.Errorf("output %q", final.Output)
			}
		},
	}, {
		name: "running",
		input: func(dir string) string {
			return fmt.Sprintf(`echo start; while [ ! -f %q ]; do sleep 0.02; done; echo end`, filepath.Join(dir, "go"))
		},
		trigger: func(ev coderclaw.Event) bool { return ev.Type == coderclaw.EventLog && ev.Message == "start" },
		after: func(t *testing.T, _ *nodetest.Node, _, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, final coderclaw.Task, evs []coderclaw.Event) {
			var pending int
			for _, ev := range evs {
				if ev.Status == coderclaw.StatusPending {
					pending++
				}
			}
			if final.Attempt != 2 || pending != 2 {
				t.Errorf("attempt %d with %d pending events, want a requeue", final.Attempt, pending)
			}
		},
	}}
	for _, p := range protocols() {
		for _, tc := range cases {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				opts := nodetest.Options{Dir: dir, NodeID: "restarting-node", StopGrace: 50 * time.Millisecond}
				n := nodetest.Start(t, opts)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				var streams atomic.Int32
				h := NewHandler(n, HandlerOptions{})
				_, stop := serveOn(t, ln, countStreams(h, &streams), h.EndStreams)

				// Signal each failed dial, so the test knows the client met
				// a node that is down.
				refused := make(chan struct{}, 1)
				tr := newTransport(p)
				var d net.Dialer
				tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
					conn, err := d.DialContext(ctx, network, a)
					if err != nil {
						select {
						case refused <- struct{}{}:
						default:
						}
					}
					return conn, err
				}
				c := newClient(t, "http://"+addr, p, WithHTTPClient(&http.Client{Transport: tr}))
				ctx := testCtx(t)
				task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: tc.input(dir)})
				if err != nil {
					t.Fatal(err)
				}
				var evs []coderclaw.Event
				restarted := false
				for it := range consume(ctx, c, task.ID, 0) {
					if it.err != nil {
						t.Fatalf("stream after %d events: %v", len(evs), it.err)
					}
					if it.ev.Seq != int64(len(evs))+1 {
						t.Fatalf("seq %d after %d events", it.ev.Seq, len(evs))
					}
					evs = append(evs, it.ev)
					if restarted || !tc.trigger(it.ev) {
						continue
					}
					restarted = true
					stop()
					n.Stop(t)
					select {
					case <-refused:
					case <-ctx.Done():
						t.Fatal("the client never tried to reconnect")
					}
					n = nodetest.Start(t, opts)
					ln2, err := net.Listen("tcp", addr)
					if err != nil {
						t.Fatalf("listen again on %s: %v", addr, err)
					}
					h2 := NewHandler(n, HandlerOptions{})
					serveOn(t, ln2, countStreams(h2, &streams), h2.EndStreams)
					tc.after(t, n, task.ID, dir)
				}
				if !restarted {
					t.Fatal("the stream ended before the restart")
				}
				hist, err := n.Events(ctx, task.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(hist) != len(evs) || !evs[len(evs)-1].Terminal() {
					t.Fatalf("streamed %d events, history has %d; last %+v", len(evs), len(hist), evs[len(evs)-1])
				}
				for i := range hist {
					if hist[i].Seq != evs[i].Seq || hist[i].Message != evs[i].Message || hist[i].Position != evs[i].Position {
						t.Fatalf("event %d: streamed %+v, history %+v", i, evs[i], hist[i])
					}
				}
				if got := streams.Load(); got < 2 {
					t.Errorf("%d StreamEvents calls, want a reconnection", got)
				}
				final, err := c.Task(ctx, task.ID)
				if err != nil || final.Status != coderclaw.StatusCompleted {
					t.Fatalf("final task %+v, %v", final, err)
				}
				tc.check(t, final, evs)
			})
		}
	}
}

// TestShutdownEndsStreams checks that http.Server.Shutdown, with
// EndStreams registered, does not wait for open streams, that they end
// with Unavailable so clients resume, and that new streams are refused.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			n := nodetest.New(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(n, HandlerOptions{})
			srv, _ := serveOn(t, ln, h, h.EndStreams)
			base := "http://" + ln.Addr().String()
			ctx := testCtx(t)
			task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = n.Cancel(context.Background(), task.ID) })
			st, err := rawClient(t, base, p).StreamEvents(ctx, connect.NewRequest(&pb.StreamEventsRequest{Id: task.ID}))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			if !st.Receive() {
				t.Fatalf("no first event: %v", st.Err())
			}
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				t.Fatalf("shutdown waited for the stream: %v", err)
			}
			for st.Receive() {
			}
			if err := st.Err(); connect.CodeOf(err) != connect.CodeUnavailable || !connect.IsWireError(err) {
				t.Fatalf("stream ended with %v, want the node's Unavailable", err)
			}

			// A handler whose streams ended refuses new ones.
			c := newClient(t, serveHandler(t, h, nil), p)
			_, err = rawClient(t, c.base, p).StreamEvents(ctx, connect.NewRequest(&pb.StreamEventsRequest{Id: task.ID}))
			if err == nil {
				st, _ := rawClient(t, c.base, p).StreamEvents(ctx, connect.NewRequest(&pb.StreamEventsRequest{Id: task.ID}))
				for st.Receive() {
				}
				err = st.Err()
				_ = st.Close()
			}
			if connect.CodeOf(err) != connect.CodeUnavailable {
				t.Errorf("new stream after EndStreams: %v, want Unavailable", err)
			}
		})
	}
}

// TestIdleStreamOutlivesWriteTimeout checks that the write deadline bounds
// writes, not the silence between events: a stream idle for several
// WriteTimeouts is not cut (HTTP/2 would reset it if the deadline stayed
// armed).
func TestIdleStreamOutlivesWriteTimeout(t *testing.T) {
	t.Parallel()
	const writeTimeout = 100 * time.Millisecond
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			n := nodetest.New(t)
			var streams atomic.Int32
			h := NewHandler(n, HandlerOptions{WriteTimeout: writeTimeout})
			c := newClient(t, serveHandler(t, countStreams(h, &streams), h.EndStreams), p)
			ctx := testCtx(t)
			// Only the stream goes through the handler: its writes are
			// what the short timeout is about.
			task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
			if err != nil {
				t.Fatal(err)
			}
			var evs []coderclaw.Event
			for it := range consume(ctx, c, task.ID, 0) {
				if it.err != nil {
					t.Fatal(it.err)
				}
				evs = append(evs, it.ev)
				if it.ev.Status == coderclaw.StatusWaiting {
					// Stay idle well past the write timeout: the time
					// passing is the condition under test.
					<-time.After(5 * writeTimeout)
					if _, err := n.Respond(ctx, task.ID, "x"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !evs[len(evs)-1].Terminal() {
				t.Fatalf("stream ended at %+v", evs[len(evs)-1])
			}
			if got := streams.Load(); got != 1 {
				t.Errorf("%d StreamEvents calls: the idle stream was cut", got)
			}
		})
	}
}

// TestStreamOutlivesReadTimeout checks that the server's ReadTimeout, which
// bounds reading a request, does not cut a stream whose request was read
// long ago (HTTP/1.1 would cancel it when the connection's read deadline
// passes).
func TestStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	const readTimeout = 100 * time.Millisecond
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			n := nodetest.New(t)
			var streams atomic.Int32
			h := NewHandler(n, HandlerOptions{})
			srv := h2cServer(countStreams(h, &streams))
			srv.Config.ReadTimeout = readTimeout
			srv.Start()
			t.Cleanup(func() {
				h.EndStreams()
				srv.Close()
			})
			c := newClient(t, srv.URL, p)
			ctx := testCtx(t)
			task, err := n.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: askTask})
			if err != nil {
				t.Fatal(err)
			}
			var evs []coderclaw.Event
			for it := range consume(ctx, c, task.ID, 0) {
				if it.err != nil {
					t.Fatal(it.err)
				}
				evs = append(evs, it.ev)
				if it.ev.Status == coderclaw.StatusWaiting {
					<-time.After(5 * readTimeout) // the time passing is the condition under test
					if _, err := n.Respond(ctx, task.ID, "x"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !evs[len(evs)-1].Terminal() {
				t.Fatalf("stream ended at %+v", evs[len(evs)-1])
			}
			if got := streams.Load(); got != 1 {
				t.Errorf("%d StreamEvents calls: the stream was cut", got)
			}
		})
	}
}

// TestStreamArguments checks that bad stream arguments end the stream with
// the runtime's error, without retrying.
func TestStreamArguments(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	c := newClient(t, serve(t, NewHandler(n, HandlerOptions{})), ProtocolGRPC)
	for _, tc := range []struct {
		id    string
		after int64
		code  coderclaw.Code
	}{{"0190a0f8-0000-7000-8000-000000000000", -1, coderclaw.CodeInvalid}, {"", 0, coderclaw.CodeNotFound}} {
		var local, remote []error
		for _, err := range n.Stream(testCtx(t), tc.id, tc.after) {
			local = append(local, err)
		}
		for _, err := range c.Stream(testCtx(t), tc.id, tc.after) {
			remote = append(remote, err)
		}
		if len(remote) != 1 || coderclaw.ErrorCode(remote[0]) != tc.code || len(local) != 1 || remote[0].Error() != local[0].Error() {
			t.Errorf("%q after %d: client %v, runtime %v; want one %s error", tc.id, tc.after, remote, local, tc.code)
		}
	}
}
