package grpc

import (
	"context"
	"fmt"
	"iter"
	"time"

	"connectrpc.com/connect"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
)

// Reconnection of Client.Stream.
const (
	// streamBackoffMin and streamBackoffMax bound the wait before a
	// reconnection, which doubles after each attempt that brought nothing.
	streamBackoffMin = 50 * time.Millisecond
	streamBackoffMax = 2 * time.Second
	// streamGiveUp is how long reconnection is tried without receiving an
	// event before the stream ends with the last error.
	streamGiveUp = time.Minute
)

// Stream implements coderclaw.Runtime. It opens StreamEvents when iterated
// and yields the events with Seq > afterSeq in order. If the stream breaks
// before the terminal event (the connection dropped, or the node answered
// Unavailable because it is shutting down), it reconnects with bounded
// backoff, resuming after the last event yielded, until an event arrives
// again or a minute has passed without one; then it yields the last
// *coderclaw.Error (unavailable). Until the node has accepted the stream
// once, a failure is yielded at once: no node answers, or it is shutting
// down. Any other error the node sends (not_found
// for an unknown task, say) ends the stream. An event whose Seq is not the
// last one plus one, or that belongs to another task, ends the stream with
// an internal error.
func (c *Client) Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
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
	// established says whether the node ever accepted the stream; before
	// that, a failure is reported at once rather than retried.
	established bool
}

// outcome is how one connection of a stream ended.
type outcome struct {
	received bool  // at least one event was yielded
	done     bool  // the stream is over: do not reconnect
	stopped  bool  // the consumer stopped iterating
	err      error // the error to yield if done, or the raw reason of the break
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
		}
		retry, err := s.classify(o.err)
		if !retry {
			return err
		}
		now := time.Now()
		if o.received || now.Sub(start) > streamBackoffMax {
			backoff = streamBackoffMin
		}
		if o.received {
			failingSince = time.Time{}
		} else if failingSince.IsZero() {
			failingSince = now
		} else if now.Sub(failingSince) > streamGiveUp {
			return err
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

// classify converts the reason a connection broke into the error to
// report, and says whether reconnecting may help. Until the node has
// accepted the stream once, nothing is retried: no node answers, or it
// refuses. After that, a connection that broke or could not be made again
// (a node restarting) and a node that says it is unavailable (shutting
// down) are retried; any other answer of the node ends the stream.
func (s *clientStream) classify(raw error) (retry bool, err error) {
	err = s.c.fail(context.Background(), "stream task "+s.id, raw)
	if !s.established {
		return false, err
	}
	if connect.IsWireError(raw) {
		return connect.CodeOf(raw) == connect.CodeUnavailable, err
	}
	switch connect.CodeOf(raw) {
	case connect.CodeUnavailable, connect.CodeInternal, connect.CodeUnknown:
		// A refused dial, a connection reset, a body cut short, a stream
		// reset by the node or a proxy.
		return true, err
	}
	return false, err
}

// connect makes one connection and yields its events.
func (s *clientStream) connect(ctx context.Context) outcome {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := s.c.rpc.StreamEvents(connCtx, connect.NewRequest(&pb.StreamEventsRequest{Id: utf8Safe(s.id), AfterSeq: s.last}))
	if err != nil {
		return outcome{err: err}
	}
	defer func() {
		cancel() // Close must not wait for the rest of a stream left early
		_ = st.Close()
	}()
	// Wait for the node's answer: its headers say whether it accepted the
	// stream, even if no event comes for a long time.
	if st.ResponseHeader().Get(streamOpenHeader) != "" {
		s.established = true
	}
	var o outcome
	for st.Receive() {
		ev, err := eventFromProto(st.Msg().GetEvent())
		if err != nil {
			o.done, o.err = true, err
			return o
		}
		if ev.Seq != s.last+1 || ev.TaskID != utf8Safe(s.id) {
			o.done, o.err = true, coderclaw.Errorf(coderclaw.CodeInternal,
				"stream of task %s: event %d of task %s arrived after event %d: the sequence has a gap or a repeat", s.id, ev.Seq, ev.TaskID, s.last)
			return o
		}
		s.last = ev.Seq
		o.received = true
		if !s.yield(ev, nil) {
			o.stopped = true
			return o
		}
		if ev.Terminal() {
			o.done = true
			return o
		}
	}
	if err := st.Err(); err != nil {
		o.err = err
		return o
	}
	// The node ended the stream without a terminal event: the task had
	// already ended at or before the position asked for.
	o.done = true
	return o
}
