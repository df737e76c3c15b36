package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Reconnection of Client.Stream.
const (
	// streamBackoffMin and streamBackoffMax bound the wait before a
	// reconnection, which doubles after each failed attempt.
	streamBackoffMin = 50 * time.Millisecond
	streamBackoffMax = 2 * time.Second
	// streamGiveUp is how long reconnection is tried without success
	// before the stream ends with the last error.
	streamGiveUp = time.Minute
	// streamIdle is how long a connection may stay silent (no event, no
	// heartbeat) before it is considered dead and replaced.
	streamIdle = 4 * DefaultStreamHeartbeat
	// maxFrameBytes bounds one event on the wire.
	maxFrameBytes = 16 << 20
)

// Stream implements coderclaw.Runtime. It opens the event stream when
// iterated and yields the events with Seq > afterSeq in order. If the
// connection drops before the terminal event, or the node reports itself
// unavailable, it reconnects with bounded backoff, resuming after the last
// event yielded, for up to a minute without success; then it yields the
// last *coderclaw.Error (unavailable). If the node cannot be reached at the
// first attempt, that error is yielded at once.
// An unknown task is a not_found error before any event. An event whose
// Seq is not the last one plus one ends the stream with an internal error.
func (c *Client) Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
		if afterSeq < 0 {
			yield(coderclaw.Event{}, coderclaw.Errorf(coderclaw.CodeInvalid, "after: sequence %d is negative", afterSeq))
			return
		}
		if err := checkID(id); err != nil {
			yield(coderclaw.Event{}, err)
			return
		}
		s := &clientStream{c: c, id: id, last: afterSeq, yield: yield}
		if err := s.run(ctx); err != nil {
			yield(coderclaw.Event{}, err)
		}
	}
}

// clientStream is the state of one iteration of Client.Stream.
type clientStream struct {
	c     *Client
	id    string
	last  int64 // seq of the last event yielded (or the starting point)
	yield func(coderclaw.Event, error) bool
	// connected says whether any connection has been established; before
	// that, a failure to reach the node is reported at once.
	connected bool
}

// outcome is how one connection of a stream ended.
type outcome struct {
	opened  bool  // the node answered 200
	yielded bool  // at least one event was yielded
	done    bool  // the stream is over: do not reconnect
	stopped bool  // the consumer stopped iterating
	err     error // the error to yield if done, or the reason of the drop
}

// run streams until the end, the consumer stops (nil), or an error to
// yield.
func (s *clientStream) run(ctx context.Context) error {
	backoff := streamBackoffMin
	var failingSince time.Time
	for {
		start := time.Now()
		o := s.connect(ctx)
		switch {
		case o.stopped:
			return nil
		case o.done:
			return o.err
		case ctx.Err() != nil:
			return fmt.Errorf("stream task %s: %w", s.id, ctx.Err())
		case !s.connected:
			// Never reached the node: say so now rather than retry.
			return o.err
		}
		// The connection dropped or could not be made: try again, sooner
		// if it was a good one.
		now := time.Now()
		if o.yielded || now.Sub(start) > streamBackoffMax {
			backoff = streamBackoffMin
		}
		if o.opened {
			failingSince = time.Time{}
		} else if failingSince.IsZero() {
			failingSince = now
		} else if now.Sub(failingSince) > streamGiveUp {
			return o.err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stream task %s: %w", s.id, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, streamBackoffMax)
	}
}

// connect makes one connection and yields its events.
func (s *clientStream) connect(ctx context.Context) outcome {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := s.c.newRequest(connCtx, http.MethodGet, taskPath(s.id)+"/stream", nil, nil)
	if err != nil {
		return outcome{done: true, err: err}
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(s.last, 10))
	resp, err := s.c.send(connCtx, req)
	if err != nil {
		return outcome{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		err := s.c.errorAnswer(resp)
		// A proxy, or a node on its way down: worth another try.
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return outcome{err: err}
		}
		return outcome{done: true, err: err}
	}
	s.connected = true
	o := outcome{opened: true}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		// Something other than a node answered (a login page, say).
		o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal, "stream of task %s: %s answered with Content-Type %q, not an event stream",
			s.id, s.c.base, resp.Header.Get("Content-Type"))
		return o
	}

	// A connection silent for longer than a few heartbeats is dead even if
	// TCP has not noticed: cancel it, and the read below fails.
	idle := time.AfterFunc(streamIdle, cancel)
	defer idle.Stop()
	p := newSSEParser(&idleReader{r: resp.Body, t: idle}, maxFrameBytes)
	for {
		f, err := p.Next()
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case connCtx.Err() != nil:
				o.err = coderclaw.Errorf(coderclaw.CodeUnavailable, "the event stream of task %s from %s went silent", s.id, s.c.base)
			case errors.Is(err, errSSETooLong):
				o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal, "stream of task %s: %v", s.id, err)
			default:
				o.err = s.c.unreachable(err)
			}
			return o
		}
		switch f.Event {
		case sseEnd:
			o.done = true
			return o
		case sseError:
			var body errorBody
			switch {
			case json.Unmarshal([]byte(f.Data), &body) != nil || body.Error == nil || !body.Error.Code.Valid():
				o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal, "stream of task %s: malformed error event from %s", s.id, s.c.base)
			case body.Error.Code == coderclaw.CodeUnavailable:
				// The node is going away (shutting down, say): resume later.
				o.err = body.Error
			default:
				o.done, o.err = true, body.Error
			}
			return o
		}
		var ev coderclaw.Event
		if err := json.Unmarshal([]byte(f.Data), &ev); err != nil {
			o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal, "stream of task %s: malformed event from %s: %v", s.id, s.c.base, err)
			return o
		}
		if ev.Seq != s.last+1 || (f.HasID && f.ID != strconv.FormatInt(ev.Seq, 10)) {
			o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal,
				"stream of task %s: event %d (id %q) arrived after event %d: the sequence has a gap or a repeat", s.id, ev.Seq, f.ID, s.last)
			return o
		}
		if ctx.Err() != nil {
			return o // events already read are not delivered after ctx ended
		}
		s.last = ev.Seq
		o.yielded = true
		if !s.yield(ev, nil) {
			o.stopped = true
			return o
		}
		if ev.Terminal() {
			o.done = true
			return o
		}
	}
}

// idleReader pushes back an idle timer whenever bytes arrive, heartbeats
// included.
type idleReader struct {
	r io.Reader
	t *time.Timer
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.t.Reset(streamIdle)
	}
	return n, err
}
