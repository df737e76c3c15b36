package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coderclaw/coderclaw"
)

// subscription is a live subscribe request of a server connection. Its
// fields after cancel are guarded by the connection's mutex.
type subscription struct {
	id     reqID
	taskID string
	cancel context.CancelFunc
	room   chan struct{} // cap 1: the writer emptied the queue

	queue  []outFrame // frames for the writer, at most StreamBuffer (+1 final)
	queued bool       // in the connection's ready list
	closed bool       // unsubscribed: frames are dropped
	// lastSeq is the seq of the last event the writer took (after_seq
	// before the first); tailSeq that of the last event queued (lastSeq
	// when none is).
	lastSeq, tailSeq int64
	lags             int // times the subscription lagged
}

// outFrame is a frame queued for the writer.
type outFrame struct {
	data  []byte
	seq   int64 // the event's seq, for event frames
	final bool  // the subscription's last frame (end or error)
}

// subscribe starts a subscription; it runs in the reader, so that a later
// unsubscribe of the same connection always finds it.
func (c *conn) subscribe(id reqID, p subscribeParams) {
	limit := c.h.opts.MaxStreamsPerConn
	c.mu.Lock()
	if _, dup := c.subs[id]; dup {
		c.mu.Unlock()
		c.answerError(id, invalidf("id %s names a live subscription of this connection: choose another id", id))
		return
	}
	if len(c.subs) >= limit || c.forwarders >= limit {
		c.mu.Unlock()
		c.answerError(id, unavailablef("this connection has %d live subscriptions, the limit: unsubscribe or open another connection", limit))
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	s := &subscription{
		id: id, taskID: p.TaskID, cancel: cancel, room: make(chan struct{}, 1),
		lastSeq: p.AfterSeq, tailSeq: p.AfterSeq,
	}
	c.subs[id] = s
	c.forwarders++
	c.mu.Unlock()
	c.wg.Add(1)
	go c.forward(ctx, s, p.AfterSeq)
}

// unsubscribe ends a subscription. Its frames still queued are dropped, so
// once the answer is sent no frame of the subscription follows (the
// writer, which sends the answer, has finished any frame it took before).
func (c *conn) unsubscribe(id reqID, p unsubscribeParams) {
	c.mu.Lock()
	s, ok := c.subs[p.Subscription]
	if ok {
		delete(c.subs, p.Subscription)
		s.closed = true
		s.queue = nil
	}
	c.mu.Unlock()
	if !ok {
		c.answerError(id, coderclaw.Errorf(coderclaw.CodeNotFound, "no live subscription %s on this connection", p.Subscription))
		return
	}
	s.cancel()
	b, _ := json.Marshal(resultFrame{ID: id, Result: emptyResult{}}) // cannot fail
	c.queueAnswer(b, true)
}

// forward copies the runtime's stream of a subscription into its queue
// until the stream ends, the subscription is cancelled or the connection
// ends. It never waits for the client inside the runtime's stream: when
// the queue is full it stops reading the runtime, waits for the writer to
// empty the queue (see waitRoom) and reads again from where the client is.
func (c *conn) forward(ctx context.Context, s *subscription, after int64) {
	defer func() {
		s.cancel()
		c.mu.Lock()
		c.forwarders--
		c.mu.Unlock()
		c.log.Debug("ws: subscription ended", "subscription", string(s.id), "task", s.taskID)
		c.wg.Done()
	}()
	for {
		full := false
		for ev, err := range c.rt.Stream(ctx, s.taskID, after) {
			if err != nil {
				if ctx.Err() == nil {
					c.pushFinal(s, c.errorFrame(s.id, "stream", err))
				}
				return
			}
			b, err := json.Marshal(eventFrame{ID: s.id, Event: &ev})
			if err != nil {
				c.pushFinal(s, c.errorFrame(s.id, "stream", fmt.Errorf("encode event %d of task %s: %w", ev.Seq, s.taskID, err)))
				return
			}
			var stop bool
			full, stop = c.push(s, ev.Seq, b)
			if stop {
				return
			}
			if full {
				break
			}
			if ev.Terminal() {
				c.pushFinal(s, mustMarshal(endFrame{ID: s.id, End: true}))
				return
			}
		}
		if !full {
			// The stream ended without a terminal event: the task was
			// already terminal before after_seq.
			if ctx.Err() == nil {
				c.pushFinal(s, mustMarshal(endFrame{ID: s.id, End: true}))
			}
			return
		}
		var ok bool
		if after, ok = c.waitRoom(ctx, s); !ok {
			return
		}
	}
}

// push queues an event of a subscription; full reports that the queue was
// full, and the event not queued. stop reports that the subscription has
// ended.
func (c *conn) push(s *subscription, seq int64, data []byte) (full, stop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return false, true
	}
	if len(s.queue) >= c.h.opts.StreamBuffer {
		drain(s.room) // wait for the writer to empty the queue from now on
		return true, false
	}
	s.queue = append(s.queue, outFrame{data: data, seq: seq})
	s.tailSeq = seq
	c.markReady(s)
	return false, false
}

// waitRoom waits, after push found the queue full, until the writer has
// emptied it, and returns the seq to read the runtime's stream after: the
// last event queued. A client that is merely slower than the runtime thus
// costs one read of the runtime per StreamBuffer events. A client that
// takes nothing at all for LagTimeout lags: the subscription's queued
// events are dropped, so that a stuck connection holds one frame per
// subscription, and a lagged frame naming the last event written takes
// their place; reading resumes after that event. It reports false if the
// subscription ends first.
func (c *conn) waitRoom(ctx context.Context, s *subscription) (int64, bool) {
	t := time.NewTimer(c.h.opts.LagTimeout)
	defer t.Stop()
	c.mu.Lock()
	mark := s.lastSeq
	c.mu.Unlock()
	for {
		select {
		case <-s.room:
			c.mu.Lock()
			defer c.mu.Unlock()
			return s.tailSeq, !s.closed
		case <-ctx.Done():
			return 0, false
		case <-t.C:
		}
		c.mu.Lock()
		if s.lastSeq == mark && s.tailSeq > s.lastSeq && !s.closed {
			s.tailSeq = s.lastSeq
			s.lags++
			s.queue = append(s.queue[:0:0], outFrame{data: mustMarshal(laggedFrame{ID: s.id, Lagged: true, LastSeq: s.lastSeq})})
			c.markReady(s)
			c.log.Debug("ws: subscription lagged", "subscription", string(s.id), "task", s.taskID, "last_seq", s.lastSeq, "lags", s.lags)
		}
		mark = s.lastSeq
		c.mu.Unlock()
		t.Reset(c.h.opts.LagTimeout)
	}
}

// pushFinal queues the last frame of a subscription, beyond the queue's
// bound if need be.
func (c *conn) pushFinal(s *subscription, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return
	}
	s.queue = append(s.queue, outFrame{data: data, final: true})
	c.markReady(s)
}

// markReady puts s in the writer's ready list; c.mu is held.
func (c *conn) markReady(s *subscription) {
	if !s.queued {
		s.queued = true
		c.ready = append(c.ready, s)
	}
	signal(c.wake)
}

// drain empties a channel of capacity 1.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// mustMarshal encodes a frame made of fixed types that cannot fail to
// encode.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ws: encode %T: %v", v, err))
	}
	return b
}
