package http

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// serve runs h on a Server listening on 127.0.0.1:0 and returns its base
// URL. The server is shut down at the end of the test.
func serve(t *testing.T, h http.Handler) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, h, ServerOptions{})
}

// serveOn runs h on ln; it is shut down at the end of the test.
func serveOn(t *testing.T, ln net.Listener, h http.Handler, opts ServerOptions) (string, *Server) {
	t.Helper()
	srv := NewServer(h, opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), srv
}

// newClient returns a Client for base whose connections are closed at the
// end of the test.
func newClient(t *testing.T, base string) *Client {
	t.Helper()
	c, err := NewClient(base, WithUserAgent("coderclaw-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rawClient is an http.Client with its own transport, closed at cleanup.
func rawClient(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantErrorBody checks an answer's status and its JSON error body, and
// returns the error.
func wantErrorBody(t *testing.T, resp *http.Response, status int, code coderclaw.Code) *coderclaw.Error {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error *coderclaw.Error `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil {
		t.Fatalf("body %s is not an error body: %v", b, err)
	}
	if body.Error.Code != code {
		t.Errorf("code %q, want %q (message %q)", body.Error.Code, code, body.Error.Message)
	}
	if body.Error.Message == "" {
		t.Errorf("empty message")
	}
	return body.Error
}

// fixedRuntime answers every call with the same error. It stands in for a
// runtime only where a request must never reach one (decoding failures) or
// where the test is about how an error crosses the wire.
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

// logRecorder is a slog.Handler that keeps records for assertions and
// signals each one.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	notify  chan slog.Record
}

func newLogRecorder() *logRecorder { return &logRecorder{notify: make(chan slog.Record, 1024)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	select {
	case l.notify <- r.Clone():
	default:
	}
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// text renders every record, attributes included.
func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		b.WriteString("\n")
	}
	return b.String()
}

// attrErr returns the error attribute of a record.
func attrErr(r slog.Record) error {
	var err error
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			if e, ok := a.Value.Any().(error); ok {
				err = e
			}
		}
		return true
	})
	return err
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
