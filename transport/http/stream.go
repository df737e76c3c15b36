package http

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coderclaw/coderclaw"
)

// SSE event types that are not task event types.
const (
	sseEnd   = "end"   // the runtime's stream ended without a terminal event
	sseError = "error" // the runtime's stream failed; data is an errorBody
)

// streamItem is one value of a runtime stream handed to the writer.
type streamItem struct {
	ev  coderclaw.Event
	err error
}

// stream serves GET /api/runtime/tasks/{id}/stream as Server-Sent Events.
func (h *handler) stream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	after, err := parseAfter(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would otherwise cut the stream when it lapses:
	// the connection's background read fails and cancels the request.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.log.DebugContext(r.Context(), "http: clear read deadline", "err", err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	items := make(chan streamItem)
	done := make(chan struct{})
	defer func() {
		cancel()
		<-done // the runtime's stream has returned: nothing is left running
	}()
	go func() {
		defer close(done)
		defer close(items)
		for ev, err := range h.rt.Stream(ctx, id, after) {
			select {
			case items <- streamItem{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// Errors before the first byte are ordinary JSON errors. The runtime
	// reports an unknown task (or a refused caller) as its stream's first
	// item, at once; so wait for that item before committing to a 200,
	// but not longer than firstItemWait for a stream that is only quiet.
	var first *streamItem
	wait := time.NewTimer(firstItemWait)
	select {
	case it, ok := <-items:
		if ok && it.err != nil && ctx.Err() == nil {
			wait.Stop()
			h.writeError(w, r, it.err)
			return
		}
		if ok {
			first = &it
		}
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()

	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: rc, timeout: h.opts.WriteTimeout}
	if err := sw.flush(); err != nil {
		h.streamEnded(r, id, err)
		return
	}
	// A final bound for the flush net/http does after the handler returns.
	defer func() { _ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)) }()

	heartbeat := time.NewTicker(h.opts.StreamHeartbeat)
	defer heartbeat.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			h.streamEnded(r, id, ctx.Err())
			return
		case <-heartbeat.C:
			err = sw.write([]byte(": heartbeat\n\n"))
		case it, ok := <-next(&first, items):
			switch {
			case !ok:
				err = sw.frame(sseFrame{Event: sseEnd, Data: "{}"})
				h.streamEnded(r, id, err)
				return
			case it.err != nil:
				if ctx.Err() != nil {
					// The client left or the server shuts down: the client
					// resumes elsewhere, so no error event is sent.
					h.streamEnded(r, id, ctx.Err())
					return
				}
				status, e := toWire(it.err)
				if status == http.StatusInternalServerError {
					h.log.ErrorContext(r.Context(), "http: stream failed", "task", id, "err", it.err)
				}
				b, _ := json.Marshal(errorBody{Error: e}) // cannot fail: two strings
				h.streamEnded(r, id, sw.frame(sseFrame{Event: sseError, Data: string(b)}))
				return
			}
			b, merr := json.Marshal(it.ev)
			if merr != nil {
				h.log.ErrorContext(r.Context(), "http: encode event", "task", id, "seq", it.ev.Seq, "err", merr)
				b, _ = json.Marshal(errorBody{Error: coderclaw.Errorf(coderclaw.CodeInternal, "internal error")})
				h.streamEnded(r, id, sw.frame(sseFrame{Event: sseError, Data: string(b)}))
				return
			}
			err = sw.frame(sseFrame{ID: strconv.FormatInt(it.ev.Seq, 10), HasID: true, Event: string(it.ev.Type), Data: string(b)})
			if err == nil && it.ev.Terminal() {
				h.streamEnded(r, id, nil)
				return
			}
		}
		if err != nil {
			h.streamEnded(r, id, err)
			return
		}
	}
}

// firstItemWait bounds how long a stream request waits for the runtime's
// first item before it answers 200 and streams.
const firstItemWait = 100 * time.Millisecond

// next returns a channel that yields *first, if set (clearing it), and
// otherwise the items channel itself.
func next(first **streamItem, items chan streamItem) <-chan streamItem {
	if *first == nil {
		return items
	}
	ch := make(chan streamItem, 1)
	ch <- **first
	*first = nil
	return ch
}

// streamEnded logs why a stream's handler returns.
func (h *handler) streamEnded(r *http.Request, id string, err error) {
	h.log.DebugContext(r.Context(), "http: stream ended", "task", id, "err", err)
}

// sseWriter writes frames to a stream, each under its own write deadline,
// and flushes after each.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
}

func (s *sseWriter) frame(f sseFrame) error {
	s.buf = appendSSE(s.buf[:0], f)
	return s.write(s.buf)
}

// write sends b and flushes it within the write timeout. The deadline is
// lifted once the bytes are out: over HTTP/2 a deadline left in place
// resets the stream when it passes, even while the stream is only idle.
func (s *sseWriter) write(b []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.flushed(s.rc.Flush())
}

func (s *sseWriter) flush() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return s.flushed(s.rc.Flush())
}

func (s *sseWriter) flushed(err error) error {
	if err != nil {
		return err
	}
	if err := s.rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
