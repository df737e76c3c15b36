package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/coderclaw/coderclaw"
)

// Defaults of HandlerOptions.
const (
	DefaultMaxMessageBytes    = 2 << 20
	DefaultPingInterval       = 20 * time.Second
	DefaultPongTimeout        = 15 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxStreamsPerConn  = 1000
	DefaultMaxRequestsPerConn = 64
	DefaultStreamBuffer       = 256
	DefaultLagTimeout         = time.Second
)

// HeaderMaxMessageBytes is the header of the handshake answer that tells a
// client the largest message the handler reads, so that the client can
// refuse an oversized request itself instead of losing the connection.
const HeaderMaxMessageBytes = "Coderclaw-Max-Message-Bytes"

// maxQueuedAnswers bounds the answers the reader queues for the writer
// before it stops reading: a client that sends without reading is slowed,
// not buffered without end.
const maxQueuedAnswers = 256

// HandlerOptions configures NewHandler. The zero value is usable: a zero
// (or negative) field means its documented default.
type HandlerOptions struct {
	// Logger receives connection failures, lags and internal error causes;
	// nil discards them.
	Logger *slog.Logger
	// MaxMessageBytes bounds one client message; a larger one closes the
	// connection with status 1009 (message too big). Zero means
	// DefaultMaxMessageBytes. The handshake answer advertises it in the
	// HeaderMaxMessageBytes header.
	MaxMessageBytes int64
	// PingInterval is the period of the server's pings; zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// PongTimeout is how long a ping waits for its pong before the
	// connection is considered dead and closed; zero means
	// DefaultPongTimeout.
	PongTimeout time.Duration
	// WriteTimeout bounds the write of each frame; a client that does not
	// take a frame within it loses the connection. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxStreamsPerConn bounds the live subscriptions of one connection;
	// zero means DefaultMaxStreamsPerConn.
	MaxStreamsPerConn int
	// MaxRequestsPerConn bounds the requests of one connection the runtime
	// works on at once; the connection stops reading while it is reached.
	// Zero means DefaultMaxRequestsPerConn.
	MaxRequestsPerConn int
	// StreamBuffer bounds the events queued per subscription between the
	// runtime and the socket (see Backpressure in the package
	// documentation). Zero means DefaultStreamBuffer.
	StreamBuffer int
	// LagTimeout is how long a subscription with a full queue waits for
	// the client to take an event before its queued events are dropped and
	// it lags. Zero means DefaultLagTimeout.
	LagTimeout time.Duration
	// OriginPatterns lists the host patterns (path.Match syntax, such as
	// "*.example.com" or "https://app.example.com") of other origins whose
	// pages may connect. The request's own host is always allowed, and a
	// request without an Origin header (not from a browser) is too. A
	// malformed pattern allows nothing and is logged by NewHandler.
	OriginPatterns []string
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxStreamsPerConn <= 0 {
		o.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	if o.MaxRequestsPerConn <= 0 {
		o.MaxRequestsPerConn = DefaultMaxRequestsPerConn
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = DefaultStreamBuffer
	}
	if o.LagTimeout <= 0 {
		o.LagTimeout = DefaultLagTimeout
	}
	return o
}

// Handler serves a coderclaw.Runtime over WebSocket connections with the
// protocol of the package documentation. It is safe for concurrent use.
// Its connections outlive the http.Server that accepted them (they are
// hijacked), so a node calls Shutdown when it stops.
type Handler struct {
	rt      coderclaw.Runtime
	opts    HandlerOptions
	log     *slog.Logger
	origins []string

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	drained chan struct{} // closed once closing and no connection is left
}

// NewHandler returns a Handler serving rt; mount it at /api/runtime/ws.
func NewHandler(rt coderclaw.Runtime, opts HandlerOptions) *Handler {
	opts = opts.withDefaults()
	h := &Handler{rt: rt, opts: opts, log: opts.Logger, conns: map[*conn]struct{}{}}
	for _, p := range opts.OriginPatterns {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			h.log.Error("ws: malformed origin pattern ignored", "pattern", p, "err", err)
			continue
		}
		h.origins = append(h.origins, p)
	}
	return h
}

// ServeHTTP upgrades a request to a WebSocket connection and serves it
// until either side closes it. A request that is not a WebSocket handshake
// is answered 426, a cross-origin request from a page whose origin is not
// allowed 403, and any request after Shutdown 503, each with the JSON
// error body {"error":{"code","message"}}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		h.writeHTTPError(w, http.StatusUpgradeRequired,
			invalidf("%s speaks WebSocket only: send a GET with Upgrade: websocket", r.URL.Path))
		return
	}
	if h.isClosing() {
		h.writeHTTPError(w, http.StatusServiceUnavailable, unavailablef("node is shutting down"))
		return
	}
	w.Header().Set(HeaderMaxMessageBytes, strconv.FormatInt(h.opts.MaxMessageBytes, 10))
	ew := &acceptWriter{ResponseWriter: w}
	ws, err := websocket.Accept(ew, r, &websocket.AcceptOptions{OriginPatterns: h.origins})
	if err != nil {
		status := ew.status
		if status == 0 {
			status = http.StatusBadRequest
		}
		msg := strings.TrimPrefix(err.Error(), "failed to accept WebSocket connection: ")
		h.log.DebugContext(r.Context(), "ws: handshake refused", "status", status, "err", err)
		h.writeHTTPError(w, status, coderclaw.Errorf(codeForStatus(status), "%s", msg))
		return
	}
	ws.SetReadLimit(h.opts.MaxMessageBytes)
	c := newConn(h, ws, r)
	if !h.track(c) {
		_ = ws.Close(websocket.StatusGoingAway, "node shutting down")
		return
	}
	defer h.untrack(c)
	c.serve()
}

// Shutdown closes every connection with status 1001 (going away), so that
// clients reconnect elsewhere or later, refuses new ones, and waits until
// the connections' goroutines have ended or ctx ends; then it drops the
// connections left without a close handshake and returns ctx's error.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	if h.drained == nil {
		h.drained = make(chan struct{})
		if len(h.conns) == 0 {
			close(h.drained)
		}
	}
	for c := range h.conns {
		c.goAway()
	}
	drained := h.drained
	h.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		for c := range h.conns {
			c.fail(errors.New("shutdown deadline"))
		}
		h.mu.Unlock()
		return fmt.Errorf("ws: shutdown: %w", ctx.Err())
	}
}

func (h *Handler) isClosing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

func (h *Handler) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) untrack(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	if h.closing && len(h.conns) == 0 && h.drained != nil {
		select {
		case <-h.drained:
		default:
			close(h.drained)
		}
	}
}

// connections returns the number of open connections.
func (h *Handler) connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// writeHTTPError answers a request that was not upgraded.
func (h *Handler) writeHTTPError(w http.ResponseWriter, status int, e *coderclaw.Error) {
	b, _ := json.Marshal(errorBody{Error: e}) // cannot fail: two strings
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// acceptWriter keeps websocket.Accept's plain-text error answers from the
// client, so that ServeHTTP answers with the JSON error body instead. It
// passes everything else, the 101 answer and the hijack included, through.
type acceptWriter struct {
	http.ResponseWriter
	status int
}

func (a *acceptWriter) WriteHeader(status int) {
	if status >= 400 {
		a.status = status
		return
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *acceptWriter) Write(b []byte) (int, error) {
	if a.status != 0 {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

func (a *acceptWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// headerHasToken reports whether a comma-separated header lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
