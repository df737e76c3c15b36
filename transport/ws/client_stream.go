package ws

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Stream implements coderclaw.Runtime. When iterated it subscribes to the
// task's events after afterSeq and yields them in order, checking that each
// event's seq is the last one's plus one: a break in the sequence ends the
// stream with an internal error, never a silent skip. It stops after the
// terminal event, and if the caller breaks out early it unsubscribes.
//
// When the connection is lost, or the node reports itself unavailable (it
// is shutting down, say), the stream reconnects with bounded backoff and
// subscribes again after the last event it yielded, so the caller sees no
// gap and no duplicate; it gives up, yielding the last *coderclaw.Error
// (unavailable), after failing for the reconnect give-up time in a row. If
// the node cannot be reached at the first attempt, that error is yielded
// at once. An unknown task is a not_found error before any event.
func (c *Client) Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
		if afterSeq < 0 {
			yield(coderclaw.Event{}, invalidf("after: sequence %d is negative", afterSeq))
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
}

// outcome is how one subscription of a stream ended.
type outcome struct {
	unreachable bool  // no connection could be opened
	yielded     bool  // at least one event was yielded
	resume      bool  // the caller fell behind: subscribe again at once
	done        bool  // the stream is over: err (or nil) is final
	stopped     bool  // the caller stopped iterating
	err         error // the final error if done, else why the subscription ended
}

// run streams until the end, the caller stops (nil), or an error to yield.
func (s *clientStream) run(ctx context.Context) error {
	o := &s.c.opts
	backoff := o.reconnectMin
	var failingSince time.Time
	for first := true; ; first = false {
		r := s.subscribeOnce(ctx)
		switch {
		case r.stopped:
			return nil
		case r.done:
			return r.err
		case ctx.Err() != nil:
			return fmt.Errorf("stream task %s: %w", s.id, ctx.Err())
		case s.c.isClosed():
			return s.c.closedError()
		case first && r.unreachable:
			// Never reached the node: say so now rather than retry.
			return r.err
		case coderclaw.ErrorCode(r.err) != coderclaw.CodeUnavailable && !r.resume:
			return r.err
		case r.resume:
			backoff, failingSince = o.reconnectMin, time.Time{}
			continue
		}
		now := time.Now()
		if r.yielded {
			backoff, failingSince = o.reconnectMin, time.Time{}
		}
		if failingSince.IsZero() {
			failingSince = now
		} else if now.Sub(failingSince) > o.giveUp {
			return r.err
		}
		s.c.log.Debug("ws: stream resubscribes", "task", s.id, "after_seq", s.last, "in", backoff, "err", r.err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stream task %s: %w", s.id, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, o.reconnectMax)
	}
}

// subscribeOnce subscribes on the live connection (opening one if need be)
// and yields the subscription's events until it ends.
func (s *clientStream) subscribeOnce(ctx context.Context) outcome {
	cc, err := s.c.connect(ctx)
	if err != nil {
		return outcome{unreachable: true, err: err}
	}
	subID := s.c.ids.Add(1)
	in := newInbox(s.c.opts.streamBuffer)
	cc.addSub(subID, in)
	defer cc.removeSub(subID)
	b, err := encodeRequest(request{ID: intID(subID), Method: methodSubscribe,
		Params: subscribeParams{TaskID: s.id, AfterSeq: s.last}})
	if err != nil {
		return outcome{done: true, err: err}
	}
	if err := cc.send(ctx, b); err != nil {
		return outcome{err: err}
	}
	var o outcome
	dead := false
	for {
		r, ok, overflow := in.next()
		if !ok {
			switch {
			case overflow:
				// The caller is slower than the node: stop the node's
				// sending, and after what is held here has been yielded,
				// subscribe again after the last event.
				cc.unsubscribe(subID)
				s.c.overflows.Add(1)
				o.resume = true
				return o
			case dead:
				o.err = cc.lost()
				return o
			}
			select {
			case <-in.notify:
			case <-cc.ctx.Done():
				dead = true // yield what arrived before the loss first
			case <-ctx.Done():
				cc.unsubscribe(subID)
				o.done, o.err = true, fmt.Errorf("stream task %s: %w", s.id, ctx.Err())
				return o
			}
			continue
		}
		switch r.Kind {
		case replyEvent:
			ev := r.Event
			if ev.Seq != s.last+1 || ev.TaskID != s.id {
				cc.unsubscribe(subID)
				o.done = true
				o.err = coderclaw.Errorf(coderclaw.CodeInternal,
					"stream of task %s: event %d of task %s arrived after event %d: the sequence has a gap or a repeat", s.id, ev.Seq, ev.TaskID, s.last)
				return o
			}
			s.last = ev.Seq
			o.yielded = true
			if !s.yield(ev, nil) {
				cc.unsubscribe(subID)
				o.stopped = true
				return o
			}
			if ev.Terminal() {
				o.done = true
				return o
			}
		case replyEnd:
			o.done = true
			return o
		case replyLagged:
			s.c.lags.Add(1)
			if r.LastSeq != s.last {
				cc.unsubscribe(subID)
				o.done = true
				o.err = coderclaw.Errorf(coderclaw.CodeInternal,
					"stream of task %s: the node resumes after event %d, but the last event received is %d", s.id, r.LastSeq, s.last)
				return o
			}
		case replyError:
			// unavailable (the node is going away, or this connection has
			// too many streams) is worth another subscription.
			o.done = r.Err.Code != coderclaw.CodeUnavailable
			o.err = r.Err
			return o
		default:
			cc.unsubscribe(subID)
			o.done = true
			o.err = coderclaw.Errorf(coderclaw.CodeInternal, "stream of task %s: the node answered the subscription with a result", s.id)
			return o
		}
	}
}

// inbox holds the frames of one subscription between the connection's
// reader, which never waits, and the caller, who takes them at its own
// pace. When it is full it drops what follows and reports an overflow
// once the frames held have been taken.
type inbox struct {
	notify chan struct{} // cap 1: a frame arrived

	mu       sync.Mutex
	frames   []reply
	max      int
	overflow bool
}

func newInbox(limit int) *inbox {
	return &inbox{notify: make(chan struct{}, 1), max: limit}
}

func (b *inbox) deliver(r reply) {
	b.mu.Lock()
	switch {
	case b.overflow:
	case len(b.frames) >= b.max:
		b.overflow = true
	default:
		b.frames = append(b.frames, r)
	}
	b.mu.Unlock()
	signal(b.notify)
}

// next takes the oldest frame; when none is left it reports whether
// frames were dropped.
func (b *inbox) next() (r reply, ok, overflow bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) == 0 {
		b.frames = nil
		return reply{}, false, b.overflow
	}
	r = b.frames[0]
	b.frames[0] = reply{}
	b.frames = b.frames[1:]
	return r, true, false
}
