package grpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
	"github.com/coderclaw/coderclaw/gen/coderclaw/v1/coderclawv1connect"
)

// Defaults of HandlerOptions.
const (
	// DefaultMaxRecvBytes bounds a request message: room for the largest
	// valid SubmitRequest (1 MiB of input plus labels and metadata).
	DefaultMaxRecvBytes = 4 << 20
	// DefaultMaxSendBytes bounds an answer message, such as the full
	// history of a long task; the Client accepts up to this size.
	DefaultMaxSendBytes = 64 << 20
	// DefaultUnaryTimeout bounds the work of one unary call.
	DefaultUnaryTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds each write of an answer.
	DefaultWriteTimeout = 10 * time.Second
)

// HandlerOptions configures NewHandler. The zero value is usable: a zero
// field means its documented default.
type HandlerOptions struct {
	// Logger receives internal error causes and request failures; nil
	// discards them.
	Logger *slog.Logger
	// MaxRecvBytes bounds a request message (ResourceExhausted beyond it,
	// which the Client reports as invalid); zero means DefaultMaxRecvBytes.
	MaxRecvBytes int
	// MaxSendBytes bounds an answer message; zero means
	// DefaultMaxSendBytes.
	MaxSendBytes int
	// UnaryTimeout bounds every call but StreamEvents (a shorter deadline
	// the client sends wins); zero means DefaultUnaryTimeout.
	UnaryTimeout time.Duration
	// WriteTimeout bounds each write of an answer or a streamed event, so a
	// client that stops reading cannot hold a handler; zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// NoReflection turns gRPC server reflection off.
	NoReflection bool
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRecvBytes <= 0 {
		o.MaxRecvBytes = DefaultMaxRecvBytes
	}
	if o.MaxSendBytes <= 0 {
		o.MaxSendBytes = DefaultMaxSendBytes
	}
	if o.UnaryTimeout <= 0 {
		o.UnaryTimeout = DefaultUnaryTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	return o
}

// Handler serves a coderclaw.Runtime as coderclaw.v1.RuntimeService over
// gRPC, gRPC-Web and Connect, with gRPC server reflection. It is safe for
// concurrent use.
type Handler struct {
	rt    coderclaw.Runtime
	opts  HandlerOptions
	log   *slog.Logger
	mux   *http.ServeMux
	paths []string
	// streams ends when EndStreams is called; open streams end with it.
	streams    context.Context
	endStreams context.CancelFunc
}

// NewHandler returns a Handler serving rt. Its paths (Paths) are the
// service's and, unless opts.NoReflection, reflection's.
func NewHandler(rt coderclaw.Runtime, opts HandlerOptions) *Handler {
	opts = opts.withDefaults()
	streams, end := context.WithCancel(context.Background())
	h := &Handler{rt: rt, opts: opts, log: opts.Logger, mux: http.NewServeMux(), streams: streams, endStreams: end}
	limits := []connect.HandlerOption{
		connect.WithReadMaxBytes(opts.MaxRecvBytes),
		connect.WithSendMaxBytes(opts.MaxSendBytes),
	}
	path, svc := coderclawv1connect.NewRuntimeServiceHandler(&service{h: h},
		append(limits, connect.WithInterceptors(interceptor{h: h}), connect.WithRecover(h.recovered))...)
	h.handle(path, svc)
	if !opts.NoReflection {
		// The reflection service lists itself, as grpc-go's does.
		reflector := grpcreflect.NewStaticReflector(coderclawv1connect.RuntimeServiceName, "grpc.reflection.v1.ServerReflection")
		h.handle(grpcreflect.NewHandlerV1(reflector, limits...))
		h.handle(grpcreflect.NewHandlerV1Alpha(reflector, limits...))
	}
	return h
}

// Mount registers a new Handler for rt on mux at each of its paths, next
// to whatever else mux serves, and returns it (for EndStreams).
func Mount(mux *http.ServeMux, rt coderclaw.Runtime, opts HandlerOptions) *Handler {
	h := NewHandler(rt, opts)
	for _, p := range h.paths {
		mux.Handle(p, h)
	}
	return h
}

func (h *Handler) handle(path string, hh http.Handler) {
	h.paths = append(h.paths, path)
	h.mux.Handle(path, hh)
}

// Paths returns the path prefixes the Handler serves, such as
// "/coderclaw.v1.RuntimeService/", for mounting it on a mux.
func (h *Handler) Paths() []string { return append([]string(nil), h.paths...) }

// ServeHTTP serves a request on one of the Handler's paths; any other path
// is answered 404. Every write is bounded by HandlerOptions.WriteTimeout.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: h.opts.WriteTimeout}, r)
}

// EndStreams ends every open StreamEvents call with Unavailable, and
// refuses new ones the same way, so that a server's Shutdown need not wait
// for streams that only end with their tasks; clients resume them
// elsewhere or later. Register it with http.Server.RegisterOnShutdown.
func (h *Handler) EndStreams() { h.endStreams() }

// recovered turns a panic in the runtime into an internal error; the panic
// is logged, never sent.
func (h *Handler) recovered(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	h.log.ErrorContext(ctx, "grpc: panic", "procedure", spec.Procedure, "panic", p)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// fail logs the error a call ends with as its code deserves and converts it
// for the wire.
func (h *Handler) fail(ctx context.Context, procedure string, err error) *connect.Error {
	cerr := toConnect(err)
	switch {
	case ctx.Err() != nil:
		h.log.DebugContext(ctx, "grpc: request ended early", "procedure", procedure, "err", err)
	case cerr.Code() == connect.CodeInternal || cerr.Code() == connect.CodeUnknown:
		h.log.ErrorContext(ctx, "grpc: internal error", "procedure", procedure, "err", err)
	case cerr.Code() == connect.CodeUnavailable:
		h.log.WarnContext(ctx, "grpc: runtime unavailable", "procedure", procedure, "err", err)
	}
	return cerr
}

// interceptor applies the unary timeout and maps every error a call
// returns, in one place.
type interceptor struct{ h *Handler }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, cancel := context.WithTimeout(ctx, i.h.opts.UnaryTimeout)
		defer cancel()
		resp, err := next(ctx, req)
		if err != nil {
			return nil, i.h.fail(ctx, req.Spec().Procedure, err)
		}
		return resp, nil
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return i.h.fail(ctx, conn.Spec().Procedure, err)
		}
		return nil
	}
}

// deadlineWriter bounds each write: the deadline is armed by the first
// write after a flush and disarmed once the flush has gone out, so an idle
// stream is never cut (HTTP/2 resets a stream when its write deadline
// passes, even between writes).
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
}

func (d *deadlineWriter) arm() {
	if !d.armed {
		// http.ErrNotSupported: a writer without deadlines is unbounded.
		_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
		d.armed = true
	}
}

func (d *deadlineWriter) WriteHeader(status int) {
	d.arm()
	d.ResponseWriter.WriteHeader(status)
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.arm()
	return d.ResponseWriter.Write(b)
}

// Flush sends what was written, within the deadline, then lifts it.
func (d *deadlineWriter) Flush() {
	d.arm()
	if err := d.rc.Flush(); err != nil {
		return // the deadline stays: the stream is broken anyway
	}
	_ = d.rc.SetWriteDeadline(time.Time{})
	d.armed = false
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// service implements the generated RuntimeServiceHandler over a Runtime.
// Its errors are mapped by the interceptor.
type service struct{ h *Handler }

var _ coderclawv1connect.RuntimeServiceHandler = (*service)(nil)

func (s *service) Submit(ctx context.Context, req *connect.Request[pb.SubmitRequest]) (*connect.Response[pb.SubmitResponse], error) {
	t, err := s.h.rt.Submit(ctx, submitFromProto(req.Msg))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SubmitResponse{Task: taskToProto(t)}), nil
}

func (s *service) GetTask(ctx context.Context, req *connect.Request[pb.GetTaskRequest]) (*connect.Response[pb.GetTaskResponse], error) {
	t, err := s.h.rt.Task(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.GetTaskResponse{Task: taskToProto(t)}), nil
}

func (s *service) ListTasks(ctx context.Context, req *connect.Request[pb.ListTasksRequest]) (*connect.Response[pb.ListTasksResponse], error) {
	f, err := filterFromProto(req.Msg)
	if err != nil {
		return nil, err
	}
	page, err := s.h.rt.Tasks(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &pb.ListTasksResponse{NextCursor: utf8Safe(page.NextCursor), Tasks: make([]*pb.Task, 0, len(page.Tasks))}
	for _, t := range page.Tasks {
		out.Tasks = append(out.Tasks, taskToProto(t))
	}
	return connect.NewResponse(out), nil
}

func (s *service) ListEvents(ctx context.Context, req *connect.Request[pb.ListEventsRequest]) (*connect.Response[pb.ListEventsResponse], error) {
	evs, err := s.h.rt.Events(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	out := &pb.ListEventsResponse{Events: make([]*pb.Event, 0, len(evs))}
	for _, ev := range evs {
		out.Events = append(out.Events, eventToProto(ev))
	}
	return connect.NewResponse(out), nil
}

// streamOpenHeader is the response header StreamEvents sends as soon as it
// accepts a stream, so that the client knows the node answered.
const streamOpenHeader = "Coderclaw-Stream"

// errShuttingDown ends streams when EndStreams was called.
func errShuttingDown() error {
	return coderclaw.Errorf(coderclaw.CodeUnavailable, "node is shutting down")
}

func (s *service) StreamEvents(ctx context.Context, req *connect.Request[pb.StreamEventsRequest], stream *connect.ServerStream[pb.StreamEventsResponse]) error {
	if s.h.streams.Err() != nil {
		return errShuttingDown()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.h.streams, cancel)
	defer stop()
	id := req.Msg.GetId()
	type item struct {
		ev  coderclaw.Event
		err error
	}
	items := make(chan item)
	produced := make(chan struct{})
	defer func() {
		cancel()
		<-produced // the runtime's stream has returned: nothing is left running
	}()
	go func() {
		defer close(produced)
		defer close(items)
		for ev, err := range s.h.rt.Stream(ctx, id, req.Msg.GetAfterSeq()) {
			select {
			case items <- item{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// The client must learn the stream is open before the first event,
	// which may be long in coming: a stream that breaks after that is
	// resumed, one refused before it is not. The runtime reports an
	// unknown task or a refused caller as its first item, at once; so wait
	// for that item, up to firstItemWait, and send the open header with
	// it in one write (or alone, for a quiet stream).
	wait := time.NewTimer(firstItemWait)
	defer wait.Stop()
	var (
		it item
		ok bool
	)
	select {
	case it, ok = <-items:
		if ok && it.err != nil {
			return s.streamErr(it.err) // refused: never opened
		}
		stream.ResponseHeader().Set(streamOpenHeader, "open")
	case <-wait.C:
		stream.ResponseHeader().Set(streamOpenHeader, "open")
		if err := stream.Send(nil); err != nil {
			return fmt.Errorf("open stream: %w", err)
		}
		it, ok = <-items
	}
	for ; ok; it, ok = <-items {
		if it.err != nil {
			return s.streamErr(it.err)
		}
		if err := stream.Send(&pb.StreamEventsResponse{Event: eventToProto(it.ev)}); err != nil {
			if s.h.streams.Err() != nil {
				return errShuttingDown()
			}
			return fmt.Errorf("send event %d of task %s: %w", it.ev.Seq, id, err)
		}
		if it.ev.Terminal() {
			return nil
		}
	}
	if s.h.streams.Err() != nil {
		return errShuttingDown()
	}
	return ctx.Err()
}

// firstItemWait bounds how long a stream waits for the runtime's first
// item before it tells the client the stream is open.
const firstItemWait = 100 * time.Millisecond

func (s *service) streamErr(err error) error {
	if s.h.streams.Err() != nil {
		return errShuttingDown()
	}
	return err
}

func (s *service) Cancel(ctx context.Context, req *connect.Request[pb.CancelRequest]) (*connect.Response[pb.CancelResponse], error) {
	t, err := s.h.rt.Cancel(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.CancelResponse{Task: taskToProto(t)}), nil
}

func (s *service) Respond(ctx context.Context, req *connect.Request[pb.RespondRequest]) (*connect.Response[pb.RespondResponse], error) {
	t, err := s.h.rt.Respond(ctx, req.Msg.GetId(), req.Msg.GetInput())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RespondResponse{Task: taskToProto(t)}), nil
}

func (s *service) ListAgents(ctx context.Context, _ *connect.Request[pb.ListAgentsRequest]) (*connect.Response[pb.ListAgentsResponse], error) {
	as, err := s.h.rt.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := &pb.ListAgentsResponse{Agents: make([]*pb.Agent, 0, len(as))}
	for _, a := range as {
		out.Agents = append(out.Agents, agentToProto(a))
	}
	return connect.NewResponse(out), nil
}

func (s *service) ListSkills(ctx context.Context, _ *connect.Request[pb.ListSkillsRequest]) (*connect.Response[pb.ListSkillsResponse], error) {
	ss, err := s.h.rt.Skills(ctx)
	if err != nil {
		return nil, err
	}
	out := &pb.ListSkillsResponse{Skills: make([]*pb.Skill, 0, len(ss))}
	for _, sk := range ss {
		out.Skills = append(out.Skills, skillToProto(sk))
	}
	return connect.NewResponse(out), nil
}

func (s *service) GetStatus(ctx context.Context, _ *connect.Request[pb.GetStatusRequest]) (*connect.Response[pb.GetStatusResponse], error) {
	st, err := s.h.rt.Status(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.GetStatusResponse{Status: statusToProto(st)}), nil
}
