package ws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/coderclaw/coderclaw"
)

// clientConn is one connection of a Client. Its goroutines (reader,
// writer, pinger) end when it fails; ctx ends then, with the failure as
// its cause.
type clientConn struct {
	c       *Client
	ws      *websocket.Conn
	maxSend int64 // the node's message limit

	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan []byte   // frames for the writer
	ctl    chan struct{} // cap 1: unsubs has entries

	mu     sync.Mutex
	calls  map[int64]chan reply // unary calls waiting for their answer
	subs   map[int64]*inbox     // live subscriptions
	unsubs []int64              // subscriptions to end on the node
}

func newClientConn(c *Client, ws *websocket.Conn, maxSend int64) *clientConn {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &clientConn{
		c: c, ws: ws, maxSend: maxSend,
		ctx: ctx, cancel: cancel,
		out:   make(chan []byte),
		ctl:   make(chan struct{}, 1),
		calls: map[int64]chan reply{},
		subs:  map[int64]*inbox{},
	}
}

// start starts the goroutines; the Client's mutex is held, so Close waits
// for them.
func (cc *clientConn) start() {
	cc.c.wg.Add(3)
	go cc.readLoop()
	go cc.writeLoop()
	go cc.pingLoop()
}

// fail ends the connection for err; the first cause wins.
func (cc *clientConn) fail(err error) { cc.cancel(err) }

// close closes the connection with a close handshake (status 1000).
func (cc *clientConn) close() {
	cause := errClientClosed
	if err := cc.ws.Close(websocket.StatusNormalClosure, "client closed"); err != nil {
		cause = fmt.Errorf("%w: close: %w", errClientClosed, err)
	}
	cc.fail(cause)
}

// errClientClosed is why Client.Close ends a connection.
var errClientClosed = errors.New("client closed")

// lost is the error of a connection that has failed: the internal error
// that failed it, or an unavailable error naming the reason.
func (cc *clientConn) lost() *coderclaw.Error {
	cause := context.Cause(cc.ctx)
	var ce *coderclaw.Error
	if errors.As(cause, &ce) {
		return ce
	}
	if cc.c.isClosed() {
		return cc.c.closedError()
	}
	return unavailablef("lost the connection to the CoderClaw node at %s: %s", cc.c.url, closeReason(cause))
}

// lostCall is the error of a call whose connection failed before its
// answer came.
func (cc *clientConn) lostCall(method string) *coderclaw.Error {
	e := cc.lost()
	if e.Code != coderclaw.CodeUnavailable || cc.c.isClosed() {
		return e
	}
	return unavailablef("%s: lost the connection to the CoderClaw node at %s before the answer (%s); the request may or may not have taken effect",
		method, cc.c.url, closeReason(context.Cause(cc.ctx)))
}

// closeReason describes why a connection ended.
func closeReason(err error) string {
	var ce websocket.CloseError
	switch {
	case err == nil:
		return "connection closed"
	case errors.As(err, &ce):
		if ce.Reason != "" {
			return fmt.Sprintf("the node closed the connection (status %d: %s)", int(ce.Code), ce.Reason)
		}
		return fmt.Sprintf("the node closed the connection (status %d)", int(ce.Code))
	}
	return netReason(err)
}

func (cc *clientConn) addCall(id int64) chan reply {
	ch := make(chan reply, 1)
	cc.mu.Lock()
	cc.calls[id] = ch
	cc.mu.Unlock()
	return ch
}

func (cc *clientConn) removeCall(id int64) {
	cc.mu.Lock()
	delete(cc.calls, id)
	cc.mu.Unlock()
}

func (cc *clientConn) addSub(id int64, in *inbox) {
	cc.mu.Lock()
	cc.subs[id] = in
	cc.mu.Unlock()
}

func (cc *clientConn) removeSub(id int64) {
	cc.mu.Lock()
	delete(cc.subs, id)
	cc.mu.Unlock()
}

// unsubscribe asks the node to end a subscription without waiting: the
// writer sends the request, and its answer is ignored.
func (cc *clientConn) unsubscribe(id int64) {
	cc.mu.Lock()
	delete(cc.subs, id)
	cc.unsubs = append(cc.unsubs, id)
	cc.mu.Unlock()
	signal(cc.ctl)
}

// send hands a frame to the writer.
func (cc *clientConn) send(ctx context.Context, b []byte) error {
	select {
	case cc.out <- b:
		return nil
	case <-cc.ctx.Done():
		return cc.lost()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readLoop reads and routes frames until the connection fails.
func (cc *clientConn) readLoop() {
	defer cc.c.wg.Done()
	defer func() { _ = cc.ws.CloseNow() }()
	for {
		typ, data, err := cc.ws.Read(cc.ctx)
		if err != nil {
			cc.fail(fmt.Errorf("read: %w", err))
			if !cc.c.isClosed() {
				cc.c.log.Debug("ws: connection lost", "url", cc.c.url, "err", context.Cause(cc.ctx))
			}
			return
		}
		if typ != websocket.MessageText {
			cc.fail(coderclaw.Errorf(coderclaw.CodeInternal, "the CoderClaw node at %s sent a binary message", cc.c.url))
			return
		}
		r, err := decodeReply(data)
		if err != nil {
			cc.fail(coderclaw.Errorf(coderclaw.CodeInternal, "malformed frame from the CoderClaw node at %s: %s", cc.c.url, coderclaw.ErrorMessage(err)))
			return
		}
		cc.route(r)
	}
}

// route hands a frame to the call or subscription it answers. Frames of
// calls and subscriptions that have gone (a late end, the answer of an
// unsubscribe) are dropped.
func (cc *clientConn) route(r reply) {
	id, ok := r.ID.int()
	if !ok {
		if r.Kind == replyError {
			cc.c.log.Warn("ws: the node refused a frame", "url", cc.c.url, "err", r.Err)
		}
		return
	}
	cc.mu.Lock()
	if ch, ok := cc.calls[id]; ok && (r.Kind == replyResult || r.Kind == replyError) {
		delete(cc.calls, id)
		cc.mu.Unlock()
		ch <- r
		return
	}
	in := cc.subs[id]
	cc.mu.Unlock()
	if in != nil {
		in.deliver(r)
	}
}

// writeLoop writes frames, each under its own deadline, until the
// connection fails.
func (cc *clientConn) writeLoop() {
	defer cc.c.wg.Done()
	for {
		select {
		case b := <-cc.out:
			if !cc.write(b) {
				return
			}
		case <-cc.ctl:
			cc.mu.Lock()
			ids := cc.unsubs
			cc.unsubs = nil
			cc.mu.Unlock()
			for _, id := range ids {
				b, err := encodeRequest(request{
					ID: intID(cc.c.ids.Add(1)), Method: methodUnsubscribe,
					Params: unsubscribeParams{Subscription: intID(id)},
				})
				if err != nil {
					cc.fail(err)
					return
				}
				if !cc.write(b) {
					return
				}
			}
		case <-cc.ctx.Done():
			return
		}
	}
}

func (cc *clientConn) write(b []byte) bool {
	ctx, cancel := context.WithTimeout(cc.ctx, cc.c.opts.writeTimeout)
	defer cancel()
	if err := cc.ws.Write(ctx, websocket.MessageText, b); err != nil {
		cc.fail(fmt.Errorf("write: %w", err))
		return false
	}
	return true
}

// pingLoop pings the node and fails the connection when a pong does not
// come back in time.
func (cc *clientConn) pingLoop() {
	defer cc.c.wg.Done()
	t := time.NewTicker(cc.c.opts.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-cc.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(cc.ctx, cc.c.opts.pongTimeout)
			err := cc.ws.Ping(ctx)
			cancel()
			if err != nil {
				cc.fail(fmt.Errorf("the node did not answer a ping within %v: %w", cc.c.opts.pongTimeout, err))
				return
			}
		}
	}
}
