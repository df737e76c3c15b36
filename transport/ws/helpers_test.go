package ws

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// serve mounts h at DefaultPath of a server on 127.0.0.1:0 and returns the
// endpoint's ws:// URL. The handler is shut down and the server closed at
// the end of the test.
func serve(t testing.TB, h *Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, h)
}

// serveOn is serve on a given listener; it returns the endpoint URL.
func serveOn(t testing.TB, ln net.Listener, h *Handler) string {
	t.Helper()
	srv := startServer(ln, h)
	t.Cleanup(func() { stopServer(t, srv, h) })
	return "ws://" + ln.Addr().String() + DefaultPath
}

func startServer(ln net.Listener, h http.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(DefaultPath, h)
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv
}

// stopServer shuts h down (its hijacked connections outlive the server)
// and closes srv.
func stopServer(t testing.TB, srv *httptest.Server, h *Handler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	srv.Close()
}

// dial returns a Client closed at the end of the test.
func dial(t testing.TB, url string, opts ...ClientOption) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close client: %v", err)
		}
	})
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// logRecorder is a slog.Handler that keeps records and signals each one.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	notify  chan slog.Record
}

func newLogRecorder() *logRecorder { return &logRecorder{notify: make(chan slog.Record, 4096)} }

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

// count returns the number of records whose message is msg.
func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Message == msg {
			n++
		}
	}
	return n
}

// waitFor waits until a record with message msg has been handled.
func (l *logRecorder) waitFor(t testing.TB, ctx context.Context, msg string) {
	t.Helper()
	if l.count(msg) > 0 {
		return
	}
	for {
		select {
		case r := <-l.notify:
			if r.Message == msg {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %q log record: %v", msg, ctx.Err())
		}
	}
}

// text renders every record.
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

// collect streams a task until the stream ends and checks the events are
// the task's consecutive events after afterSeq, ending with a terminal one.
func collect(ctx context.Context, rt coderclaw.Runtime, id string, afterSeq int64) ([]coderclaw.Event, error) {
	var evs []coderclaw.Event
	for ev, err := range rt.Stream(ctx, id, afterSeq) {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
