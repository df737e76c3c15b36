package http

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of ServerOptions.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// ServerOptions configures NewServer. A zero field means its default.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Event
	// streams lift it once the request is read, so it never cuts them.
	ReadTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the
	// next request.
	IdleTimeout time.Duration
	// Logger receives the server's own errors (TLS handshakes, accept
	// failures); nil discards them.
	Logger *slog.Logger
}

// Server is an HTTP server with the timeouts a node exposed to a network
// needs. The handler's write deadlines replace http.Server.WriteTimeout,
// which would cut event streams. Shutdown ends open event streams at once
// (their clients reconnect elsewhere or later) and waits for other requests
// to finish: a stream is a GET whose path is a task's stream route or whose
// Accept header asks for text/event-stream.
type Server struct {
	srv *http.Server
	// streams is cancelled when shutdown begins; stream requests' contexts
	// end with it.
	streams    context.Context
	endStreams context.CancelFunc
}

// NewServer returns a Server for h, typically the handler of NewHandler.
func NewServer(h http.Handler, opts ServerOptions) *Server {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	streams, endStreams := context.WithCancel(context.Background())
	s := &Server{streams: streams, endStreams: endStreams}
	s.srv = &http.Server{
		Handler:           s.wrap(h),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	s.srv.Protocols = new(http.Protocols)
	s.srv.Protocols.SetHTTP1(true)
	s.srv.Protocols.SetHTTP2(true)
	s.srv.Protocols.SetUnencryptedHTTP2(true)
	s.srv.RegisterOnShutdown(endStreams)
	return s
}

// wrap ties the context of stream requests to the server's shutdown, so
// that streams, which never finish by themselves, do not hold Shutdown.
func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStreamRequest(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.streams, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isStreamRequest reports whether r asks for an event stream.
func isStreamRequest(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if strings.Contains(r.URL.Path, "/api/runtime/tasks/") && strings.HasSuffix(r.URL.Path, "/stream") {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/event-stream") {
			return true
		}
	}
	return false
}

// Serve accepts connections on ln until Shutdown or Close, then returns
// nil; any other failure is returned. It closes ln. Cleartext connections
// speak HTTP/1.1 and, for gRPC clients, HTTP/2 without TLS (h2c).
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeTLS is Serve over TLS with the PEM certificate and key files,
// speaking HTTP/1.1 and HTTP/2.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	err := s.srv.ServeTLS(ln, certFile, keyFile)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, ends open event streams and waits,
// until ctx ends, for the other requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// RegisterOnShutdown registers f to run when Shutdown begins, to end
// long-lived requests of other handlers (gRPC streams) as it ends SSE
// streams.
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.endStreams()
	return s.srv.Close()
}
