package grpc

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
	"github.com/coderclaw/coderclaw/gen/coderclaw/v1/coderclawv1connect"
)

// rawClient returns a generated client for base speaking p over the
// transport a Client would use, closed at the end of the test.
func rawClient(t testing.TB, base string, p Protocol) coderclawv1connect.RuntimeServiceClient {
	t.Helper()
	c := newClient(t, base, p)
	var opts []connect.ClientOption
	switch p {
	case ProtocolGRPC:
		opts = append(opts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return coderclawv1connect.NewRuntimeServiceClient(c.hc, base, opts...)
}

// clientCalls calls every method of rt and returns each call's error; a
// stream, unless left out, contributes its first error.
func clientCalls(ctx context.Context, rt coderclaw.Runtime, stream bool) map[string]error {
	first := func(seq iter.Seq2[coderclaw.Event, error]) error {
		for _, err := range seq {
			if err != nil {
				return err
			}
		}
		return nil
	}
	out := map[string]error{}
	_, out["Submit"] = rt.Submit(ctx, coderclaw.SubmitRequest{Input: "x", AgentID: "noop"})
	_, out["Task"] = rt.Task(ctx, "a/b c")
	_, out["Tasks"] = rt.Tasks(ctx, coderclaw.Filter{})
	_, out["Events"] = rt.Events(ctx, "x")
	if stream {
		out["Stream"] = first(rt.Stream(ctx, "x", 0))
	}
	_, out["Cancel"] = rt.Cancel(ctx, "x")
	_, out["Respond"] = rt.Respond(ctx, "x", "y")
	_, out["Agents"] = rt.Agents(ctx)
	_, out["Skills"] = rt.Skills(ctx)
	_, out["Status"] = rt.Status(ctx)
	return out
}

// TestErrorMapping checks, over every protocol, each code's gRPC code on
// the wire with its message, and that the Client reads the same
// *coderclaw.Error back from every method.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	want := map[coderclaw.Code]connect.Code{
		coderclaw.CodeInvalid:         connect.CodeInvalidArgument,
		coderclaw.CodeNotFound:        connect.CodeNotFound,
		coderclaw.CodeConflict:        connect.CodeFailedPrecondition,
		coderclaw.CodeUnauthenticated: connect.CodeUnauthenticated,
		coderclaw.CodeForbidden:       connect.CodePermissionDenied,
		coderclaw.CodeUnavailable:     connect.CodeUnavailable,
		coderclaw.CodeInternal:        connect.CodeInternal,
	}
	if len(want) != len(coderclaw.Codes()) {
		t.Fatalf("the table covers %d of %d codes", len(want), len(coderclaw.Codes()))
	}
	for _, p := range protocols() {
		for _, code := range coderclaw.Codes() {
			t.Run(string(p)+"/"+string(code), func(t *testing.T) {
				t.Parallel()
				sent := coderclaw.Errorf(code, "the %s thing: ünïcode, 100%% sure", code)
				base := serve(t, NewHandler(fixedRuntime{fmt.Errorf("wrapped: %w", sent)}, HandlerOptions{}))
				_, err := rawClient(t, base, p).GetStatus(testCtx(t), connect.NewRequest(&pb.GetStatusRequest{}))
				var cerr *connect.Error
				if !errors.As(err, &cerr) || cerr.Code() != want[code] || cerr.Message() != sent.Message {
					t.Errorf("wire: got %v, want %s %q", err, want[code], sent.Message)
				}
				if codeOf(want[code]) != code {
					t.Errorf("codeOf(%s) = %s, want %s", want[code], codeOf(want[code]), code)
				}
				// A stream retries after unavailable (TestStreamWire covers
				// that); every other call and code ends with the error.
				c := newClient(t, base, p)
				for name, err := range clientCalls(testCtx(t), c, code != coderclaw.CodeUnavailable) {
					var ce *coderclaw.Error
					if !errors.As(err, &ce) || *ce != *sent {
						t.Errorf("client %s got %v, want %v", name, err, sent)
					}
				}
			})
		}
	}
}

// TestCodeOfEveryGRPCCode checks that every gRPC code a foreign server or
// proxy might send reads back as one of the closed set.
func TestCodeOfEveryGRPCCode(t *testing.T) {
	t.Parallel()
	want := map[connect.Code]coderclaw.Code{
		connect.CodeCanceled: coderclaw.CodeUnavailable, connect.CodeUnknown: coderclaw.CodeInternal,
		connect.CodeInvalidArgument: coderclaw.CodeInvalid, connect.CodeDeadlineExceeded: coderclaw.CodeUnavailable,
		connect.CodeNotFound: coderclaw.CodeNotFound, connect.CodeAlreadyExists: coderclaw.CodeConflict,
		connect.CodePermissionDenied: coderclaw.CodeForbidden, connect.CodeResourceExhausted: coderclaw.CodeInvalid,
		connect.CodeFailedPrecondition: coderclaw.CodeConflict, connect.CodeAborted: coderclaw.CodeConflict,
		connect.CodeOutOfRange: coderclaw.CodeInvalid, connect.CodeUnimplemented: coderclaw.CodeInternal,
		connect.CodeInternal: coderclaw.CodeInternal, connect.CodeUnavailable: coderclaw.CodeUnavailable,
		connect.CodeDataLoss: coderclaw.CodeInternal, connect.CodeUnauthenticated: coderclaw.CodeUnauthenticated,
	}
	for c := connect.CodeCanceled; c <= connect.CodeUnauthenticated; c++ {
		if got := codeOf(c); got != want[c] {
			t.Errorf("codeOf(%s) = %s, want %s", c, got, want[c])
		}
	}
	// Codes no runtime should invent still cross as a valid code.
	if got := toConnect(&coderclaw.Error{Code: "bogus", Message: "m"}); got.Code() != connect.CodeInternal || got.Message() != "m" {
		t.Errorf("bogus code: %v", got)
	}
	if got := toConnect(&coderclaw.InvalidTransitionError{From: coderclaw.StatusCompleted, To: coderclaw.StatusCancelled}); got.Code() != connect.CodeFailedPrecondition ||
		!strings.Contains(got.Message(), "already completed") {
		t.Errorf("invalid transition: %v", got)
	}
	for err, msg := range map[error]string{context.Canceled: "request cancelled", context.DeadlineExceeded: "request timed out"} {
		if got := toConnect(fmt.Errorf("op: %w", err)); got.Code() != connect.CodeUnavailable || got.Message() != msg {
			t.Errorf("%v: %v", err, got)
		}
	}
}

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	text strings.Builder
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		l.text.WriteString(" " + a.String())
		return true
	})
	l.text.WriteString("\n")
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// TestInternalCauseNotSent checks that an internal error's cause and a
// panic's value are logged and that only a generic message crosses.
func TestInternalCauseNotSent(t *testing.T) {
	t.Parallel()
	for name, rt := range map[string]coderclaw.Runtime{
		"error": fixedRuntime{fmt.Errorf("list tasks: %w", errors.New("dial db: password=hunter2"))},
		"panic": panicRuntime{},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &logRecorder{}
			c := newClient(t, serve(t, NewHandler(rt, HandlerOptions{Logger: slog.New(logs)})), ProtocolGRPC)
			_, err := c.Tasks(testCtx(t), coderclaw.Filter{})
			var ce *coderclaw.Error
			if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInternal || ce.Message != "internal error" {
				t.Errorf("got %v, want internal error", err)
			}
			if !strings.Contains(logs.String(), "hunter2") {
				t.Errorf("cause not logged; logs:\n%s", logs)
			}
		})
	}
}

// panicRuntime panics in every call.
type panicRuntime struct{ fixedRuntime }

func (panicRuntime) Tasks(context.Context, coderclaw.Filter) (coderclaw.TaskPage, error) {
	panic("boom: password=hunter2")
}

// blockingRuntime answers Status only when its context ends.
type blockingRuntime struct{ fixedRuntime }

func (blockingRuntime) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	<-ctx.Done()
	return coderclaw.NodeStatus{}, fmt.Errorf("status: %w", ctx.Err())
}

// TestUnaryTimeout checks that a unary call is bounded by UnaryTimeout and
// reported as unavailable.
func TestUnaryTimeout(t *testing.T) {
	t.Parallel()
	c := newClient(t, serve(t, NewHandler(blockingRuntime{}, HandlerOptions{UnaryTimeout: 20 * time.Millisecond})), ProtocolGRPC)
	_, err := c.Status(testCtx(t))
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnavailable || ce.Message != "request timed out" {
		t.Errorf("got %v, want unavailable: request timed out", err)
	}
}

// TestClientContext checks that a call whose context ended returns the
// context's error.
func TestClientContext(t *testing.T) {
	t.Parallel()
	c := newClient(t, serve(t, NewHandler(blockingRuntime{}, HandlerOptions{})), ProtocolGRPC)
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

// TestClientUnavailable checks the error when nothing listens, for every
// method and protocol.
func TestClientUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	want := "no CoderClaw node answers at http://" + addr + ": connection refused"
	for _, p := range protocols() {
		c := newClient(t, "http://"+addr, p)
		for name, err := range clientCalls(testCtx(t), c, true) {
			var ce *coderclaw.Error
			if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnavailable || ce.Message != want {
				t.Errorf("%s %s: got %v, want unavailable %q", p, name, err, want)
			}
		}
		n := 0
		for _, err := range c.Stream(testCtx(t), "x", 0) {
			n++
			if err == nil {
				t.Errorf("%s: stream yielded an event", p)
			}
		}
		if n != 1 {
			t.Errorf("%s: stream yielded %d items, want 1 error", p, n)
		}
	}
}

func TestNewClientRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		opts []ClientOption
	}{
		{url: "ftp://x"}, {url: "http://"}, {url: "http://x?q=1"}, {url: "http://u@x"}, {url: ":%"},
		{url: "http://x", opts: []ClientOption{WithProtocol("carrier-pigeon")}},
	} {
		if _, err := NewClient(tc.url, tc.opts...); coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
			t.Errorf("%q: got %v, want invalid", tc.url, err)
		}
	}
}
