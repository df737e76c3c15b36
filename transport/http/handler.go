package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Defaults of HandlerOptions.
const (
	DefaultMaxBodyBytes    = 2 << 20
	DefaultStreamHeartbeat = 15 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
)

// HandlerOptions configures NewHandler. The zero value is usable: a zero
// field means its documented default.
type HandlerOptions struct {
	// Logger receives request failures and internal error causes; nil
	// discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (413 beyond it); zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Version, if set, is sent in the X-Coderclaw-Version header of every
	// answer and in the body of /healthz.
	Version string
	// StreamHeartbeat is the interval of the comment lines that keep an idle
	// event stream open through proxies; zero means DefaultStreamHeartbeat.
	StreamHeartbeat time.Duration
	// WriteTimeout bounds each write of an event stream and the writing
	// of any other answer (not the work before it), so a client that stops
	// reading cannot hold a handler; zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Audit serves the audit log at /api/audit/...; nil answers 501 there.
	Audit *AuditOptions
	// Sessions serves /api/runtime/sessions; nil answers 501 there.
	Sessions *SessionOptions
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.StreamHeartbeat <= 0 {
		o.StreamHeartbeat = DefaultStreamHeartbeat
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	return o
}

// handler serves a Runtime. It holds no state besides its configuration.
type handler struct {
	rt   coderclaw.Runtime
	opts HandlerOptions
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewHandler returns an http.Handler serving rt on the routes listed in the
// package documentation. It is safe for concurrent use.
func NewHandler(rt coderclaw.Runtime, opts HandlerOptions) http.Handler {
	opts = opts.withDefaults()
	h := &handler{rt: rt, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	ah := &auditHandler{opts: opts.Audit, json: h}
	for _, r := range []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"POST /api/runtime/tasks/submit", h.submit},
		{"GET /api/runtime/tasks", h.tasks},
		{"GET /api/runtime/tasks/{id}", h.task},
		{"GET /api/runtime/tasks/{id}/state", h.task},
		{"GET /api/runtime/tasks/{id}/events", h.events},
		{"GET /api/runtime/tasks/{id}/stream", h.stream},
		{"POST /api/runtime/tasks/{id}/cancel", h.cancel},
		{"POST /api/runtime/tasks/{id}/respond", h.respond},
		{"GET /api/runtime/agents", h.agents},
		{"GET /api/runtime/skills", h.skills},
		{"GET /api/runtime/status", h.status},
		{"GET /healthz", h.healthz},
		{"POST /api/runtime/sessions", h.sessions},
		{"GET /api/runtime/sessions/{id}", h.sessions},
		{"GET /api/audit/events", ah.events},
		{auditUserRoute, ah.events},
		{"GET /api/audit/sessions/{id}/activity", ah.events},
		{"GET /api/audit/verify", ah.verify},
	} {
		h.mux.Handle(r.pattern, r.fn)
	}
	return h
}

// ServeHTTP routes a request. A request no route matches is answered by
// the mux's own 404 or 405 handler, whose plain-text answer is replaced by
// the JSON error body (the Allow header of a 405 is kept).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Version != "" {
		w.Header().Set("X-Coderclaw-Version", h.opts.Version)
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		w = &unroutedWriter{ResponseWriter: w, h: h, r: r}
	}
	h.mux.ServeHTTP(w, r)
}

// unroutedWriter stands in for the mux's 404 and 405 answers.
type unroutedWriter struct {
	http.ResponseWriter
	h        *handler
	r        *http.Request
	replaced bool
}

func (u *unroutedWriter) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		u.replaced = true
		u.h.writeError(u.ResponseWriter, u.r, coderclaw.Errorf(coderclaw.CodeNotFound, "no route for %s %s", u.r.Method, u.r.URL.Path))
	case http.StatusMethodNotAllowed:
		u.replaced = true
		u.h.writeErrorStatus(u.ResponseWriter, u.r, http.StatusMethodNotAllowed,
			coderclaw.Errorf(coderclaw.CodeInvalid, "method %s is not allowed on %s (allowed: %s)", u.r.Method, u.r.URL.Path, u.Header().Get("Allow")))
	default:
		u.ResponseWriter.WriteHeader(status)
	}
}

func (u *unroutedWriter) Write(b []byte) (int, error) {
	if u.replaced {
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

func (u *unroutedWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// writeJSON sends v as the JSON answer with the given status.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("encode answer: %w", err))
		return
	}
	// Bound the write, not the work before it: a client that stops
	// reading cannot hold the handler.
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.log.DebugContext(r.Context(), "http: set write deadline", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		h.log.DebugContext(r.Context(), "http: write answer", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// writeError sends err as the JSON error body with the status derived from
// its code. The cause of an internal error is logged, never sent.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, e := toWire(err)
	h.writeErrorStatus(w, r, status, e)
	switch {
	case r.Context().Err() != nil:
		h.log.DebugContext(r.Context(), "http: request ended early", "method", r.Method, "path", r.URL.Path, "err", err)
	case e.Code == coderclaw.CodeInternal:
		h.log.ErrorContext(r.Context(), "http: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	case e.Code == coderclaw.CodeUnavailable:
		h.log.WarnContext(r.Context(), "http: runtime unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

func (h *handler) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, e *coderclaw.Error) {
	// Headers a handler set for a success answer do not belong to an error.
	w.Header().Del("Location")
	h.writeJSON(w, r, status, errorBody{Error: e})
}

func (h *handler) submit(w http.ResponseWriter, r *http.Request) {
	req, err := decodeSubmit(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	t, err := h.rt.Submit(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", taskPath(t.ID))
	h.writeJSON(w, r, http.StatusCreated, wireTask(t))
}

func (h *handler) tasks(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, err := h.rt.Tasks(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, wirePage(page))
}

func (h *handler) task(w http.ResponseWriter, r *http.Request) {
	t, err := h.rt.Task(r.Context(), r.PathValue("id"))
	h.answer(w, r, wireTask(t), err)
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	evs, err := h.rt.Events(r.Context(), r.PathValue("id"))
	if evs == nil {
		evs = []coderclaw.Event{}
	}
	h.answer(w, r, eventsBody{Events: evs}, err)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	t, err := h.rt.Cancel(r.Context(), r.PathValue("id"))
	h.answer(w, r, wireTask(t), err)
}

func (h *handler) respond(w http.ResponseWriter, r *http.Request) {
	var req respondRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	t, err := h.rt.Respond(r.Context(), r.PathValue("id"), req.Input)
	h.answer(w, r, wireTask(t), err)
}

func (h *handler) agents(w http.ResponseWriter, r *http.Request) {
	as, err := h.rt.Agents(r.Context())
	if as == nil {
		as = []coderclaw.Agent{}
	}
	h.answer(w, r, agentsBody{Agents: as}, err)
}

func (h *handler) skills(w http.ResponseWriter, r *http.Request) {
	ss, err := h.rt.Skills(r.Context())
	if ss == nil {
		ss = []coderclaw.Skill{}
	}
	h.answer(w, r, skillsBody{Skills: ss}, err)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.rt.Status(r.Context())
	h.answer(w, r, st, err)
}

// healthBody is the answer of /healthz.
type healthBody struct {
	Status  string           `json:"status"`
	Version string           `json:"version,omitempty"`
	Error   *coderclaw.Error `json:"error,omitempty"`
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	st, err := h.rt.Status(r.Context())
	if err != nil {
		_, e := toWire(err)
		h.log.WarnContext(r.Context(), "http: health check failed", "err", err)
		h.writeJSON(w, r, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Version: h.opts.Version, Error: e})
		return
	}
	if !st.Store.OK {
		msg := "store " + st.Store.Backend + " is unhealthy"
		if st.Store.Error != "" {
			msg += ": " + st.Store.Error
		}
		h.writeJSON(w, r, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Version: h.opts.Version,
			Error: coderclaw.Errorf(coderclaw.CodeUnavailable, "%s", msg)})
		return
	}
	h.writeJSON(w, r, http.StatusOK, healthBody{Status: "ok", Version: h.opts.Version})
}

// answer sends v, or err if there is one.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, v)
}

type eventsBody struct {
	Events []coderclaw.Event `json:"events"`
}

type agentsBody struct {
	Agents []coderclaw.Agent `json:"agents"`
}

type skillsBody struct {
	Skills []coderclaw.Skill `json:"skills"`
}
