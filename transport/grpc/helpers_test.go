package grpc

import (
	"context"
	"errors"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// protocols returns the wire protocols every client-side test runs over.
func protocols() []Protocol { return []Protocol{ProtocolGRPC, ProtocolConnect, ProtocolGRPCWeb} }

// h2cServer returns an unstarted httptest server for h that speaks
// HTTP/1.1 and h2c, as a node's listener does.
func h2cServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	var ps http.Protocols
	ps.SetHTTP1(true)
	ps.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &ps
	return srv
}

// serve runs h on 127.0.0.1:0 with h2c and returns its base URL. At the end
// of the test the handler's streams are ended and the server closed.
func serve(t testing.TB, h *Handler) string {
	t.Helper()
	return serveHandler(t, h, h.EndStreams)
}

// serveHandler runs any handler as serve does; onClose, if not nil, runs
// before the server closes.
func serveHandler(t testing.TB, h http.Handler, onClose func()) string {
	t.Helper()
	srv := h2cServer(h)
	srv.Start()
	t.Cleanup(func() {
		if onClose != nil {
			onClose()
		}
		srv.Close()
	})
	return srv.URL
}

// serveOn runs h with h2c on ln, the way a node does, ending streams with
// endStreams on shutdown. The returned stop cuts every connection at once,
// as a node that goes down does; it also runs at the end of the test.
func serveOn(t testing.TB, ln net.Listener, h http.Handler, endStreams func()) (srv *http.Server, stop func()) {
	t.Helper()
	var ps http.Protocols
	ps.SetHTTP1(true)
	ps.SetUnencryptedHTTP2(true)
	srv = &http.Server{Handler: h, Protocols: &ps, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(endStreams)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			endStreams()
			if err := srv.Close(); err != nil {
				t.Errorf("close server: %v", err)
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// newClient returns a Client for base speaking p whose connections are
// closed at the end of the test.
func newClient(t testing.TB, base string, p Protocol, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(base, append([]ClientOption{WithProtocol(p), WithUserAgent("coderclaw-test")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixedRuntime answers every call with the same error. It stands in for a
// runtime only where the test is about how an error crosses the wire, or
// where a request must never reach a runtime.
type fixedRuntime struct{ err error }

var _ coderclaw.Runtime = fixedRuntime{}

func (f fixedRuntime) Submit(context.Context, coderclaw.SubmitRequest) (coderclaw.Task, error) {
	return coderclaw.Task{}, f.err
}
func (f fixedRuntime) Task(context.Context, string) (coderclaw.Task, error) {
	return coderclaw.Task{}, f.err
}
func (f fixedRuntime) Tasks(context.Context, coderclaw.Filter) (coderclaw.TaskPage, error) {
	return coderclaw.TaskPage{}, f.err
}
func (f fixedRuntime) Events(context.Context, string) ([]coderclaw.Event, error) { return nil, f.err }
func (f fixedRuntime) Stream(context.Context, string, int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) { yield(coderclaw.Event{}, f.err) }
}
func (f fixedRuntime) Cancel(context.Context, string) (coderclaw.Task, error) {
	return coderclaw.Task{}, f.err
}
func (f fixedRuntime) Respond(context.Context, string, string) (coderclaw.Task, error) {
	return coderclaw.Task{}, f.err
}
func (f fixedRuntime) Agents(context.Context) ([]coderclaw.Agent, error) { return nil, f.err }
func (f fixedRuntime) Skills(context.Context) ([]coderclaw.Skill, error) { return nil, f.err }
func (f fixedRuntime) Status(context.Context) (coderclaw.NodeStatus, error) {
	return coderclaw.NodeStatus{}, f.err
}
