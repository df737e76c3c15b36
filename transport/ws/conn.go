package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/coderclaw/coderclaw"
)

// conn is one server connection. Its goroutines are the reader (the
// handler's own), the writer, the keepalive, one per running request (at
// most MaxRequestsPerConn) and one per subscription (at most
// MaxStreamsPerConn); all end when the connection does.
//
// Frames reach the socket through the writer alone: request goroutines
// queue answers, subscription goroutines queue events in their own bounded
// queues, and the writer takes from them in turn, so a busy stream cannot
// starve the others and nothing but the writer ever waits for the client.
type conn struct {
	h   *Handler
	rt  coderclaw.Runtime
	ws  *websocket.Conn
	log *slog.Logger

	// ctx carries the request's values (the principal) and ends with the
	// connection; every runtime call of the connection uses it.
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	reqs   chan struct{} // semaphore of running requests

	goAwayOnce sync.Once
	goingAway  chan struct{} // closed by Handler.Shutdown

	mu         sync.Mutex
	subs       map[reqID]*subscription // live subscriptions by id
	forwarders int                     // running subscription goroutines
	answers    [][]byte                // answer frames for the writer
	ready      []*subscription         // subscriptions with queued frames, in turn
	streamTurn bool                    // the writer's next pick is a stream frame
	wake       chan struct{}           // cap 1: the writer has work
	answerRoom chan struct{}           // cap 1: the writer took an answer
}

func newConn(h *Handler, ws *websocket.Conn, r *http.Request) *conn {
	// The request's context ends when ServeHTTP returns and must not be
	// used after the hijack; its values (the principal) are kept.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	return &conn{
		h: h, rt: h.rt, ws: ws,
		log:        h.log.With("remote", r.RemoteAddr),
		ctx:        ctx,
		cancel:     cancel,
		reqs:       make(chan struct{}, h.opts.MaxRequestsPerConn),
		goingAway:  make(chan struct{}),
		subs:       map[reqID]*subscription{},
		wake:       make(chan struct{}, 1),
		answerRoom: make(chan struct{}, 1),
	}
}

// serve runs the connection until it ends, and returns once all its
// goroutines have.
func (c *conn) serve() {
	c.log.Debug("ws: connection opened")
	c.wg.Add(2)
	go c.writeLoop()
	go c.keepalive()
	err := c.readLoop()
	c.cancel(err)
	c.wg.Wait()
	_ = c.ws.CloseNow()
	c.log.Debug("ws: connection closed", "err", context.Cause(c.ctx))
}

// fail ends the connection for err: the reader's read is cut, which ends
// everything else.
func (c *conn) fail(err error) { c.cancel(err) }

// goAway starts the close handshake with status 1001.
func (c *conn) goAway() { c.goAwayOnce.Do(func() { close(c.goingAway) }) }

// readLoop reads and dispatches frames until the connection fails.
func (c *conn) readLoop() error {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if cause := context.Cause(c.ctx); cause != nil {
				return cause
			}
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				c.log.Info("ws: message too big, connection closed", "limit", c.h.opts.MaxMessageBytes)
			}
			return fmt.Errorf("read: %w", err)
		}
		if typ != websocket.MessageText {
			if !c.answerError("", invalidf("binary messages are not part of the protocol: send JSON text")) {
				return context.Cause(c.ctx)
			}
			continue
		}
		req, err := decodeRequest(data)
		if err != nil {
			var fe *frameError
			if !errors.As(err, &fe) {
				fe = &frameError{Err: wireError(err)}
			}
			if !c.answerError(fe.ID, fe.Err) {
				return context.Cause(c.ctx)
			}
			continue
		}
		switch req.Method {
		case methodSubscribe:
			c.subscribe(req.ID, req.Params.(subscribeParams))
		case methodUnsubscribe:
			c.unsubscribe(req.ID, req.Params.(unsubscribeParams))
		default:
			select {
			case c.reqs <- struct{}{}:
			case <-c.ctx.Done():
				return context.Cause(c.ctx)
			}
			c.wg.Add(1)
			go c.run(req)
		}
	}
}

// run serves one request in its own goroutine.
func (c *conn) run(req request) {
	defer func() {
		<-c.reqs
		c.wg.Done()
	}()
	result, err := c.invoke(req)
	if err != nil {
		c.queueAnswer(c.errorFrame(req.ID, req.Method, err), false)
		return
	}
	b, err := json.Marshal(resultFrame{ID: req.ID, Result: result})
	if err != nil {
		b = c.errorFrame(req.ID, req.Method, fmt.Errorf("encode %s result: %w", req.Method, err))
	}
	c.queueAnswer(b, false)
}

// invoke calls the runtime for a unary request.
func (c *conn) invoke(req request) (any, error) {
	ctx := c.ctx
	switch p := req.Params.(type) {
	case coderclaw.SubmitRequest:
		return c.rt.Submit(ctx, p)
	case coderclaw.Filter:
		page, err := c.rt.Tasks(ctx, p)
		if page.Tasks == nil {
			page.Tasks = []coderclaw.Task{}
		}
		return page, err
	case respondParams:
		return c.rt.Respond(ctx, p.TaskID, p.Input)
	case taskParams:
		switch req.Method {
		case methodTask:
			return c.rt.Task(ctx, p.TaskID)
		case methodCancel:
			return c.rt.Cancel(ctx, p.TaskID)
		default:
			evs, err := c.rt.Events(ctx, p.TaskID)
			if evs == nil {
				evs = []coderclaw.Event{}
			}
			return eventsResult{Events: evs}, err
		}
	}
	switch req.Method {
	case methodAgents:
		as, err := c.rt.Agents(ctx)
		if as == nil {
			as = []coderclaw.Agent{}
		}
		return agentsResult{Agents: as}, err
	case methodSkills:
		ss, err := c.rt.Skills(ctx)
		if ss == nil {
			ss = []coderclaw.Skill{}
		}
		return skillsResult{Skills: ss}, err
	case methodStatus:
		return c.rt.Status(ctx)
	}
	return nil, fmt.Errorf("ws: no dispatch for method %q with params %T", req.Method, req.Params)
}

// errorFrame encodes err as the error frame of request id, logging the
// cause of an internal error, which is never sent.
func (c *conn) errorFrame(id reqID, what string, err error) []byte {
	e := wireError(err)
	switch {
	case c.ctx.Err() != nil:
	case e.Code == coderclaw.CodeInternal:
		c.log.Error("ws: internal error", "method", what, "err", err)
	case e.Code == coderclaw.CodeUnavailable:
		c.log.Warn("ws: runtime unavailable", "method", what, "err", err)
	}
	b, _ := json.Marshal(errorFrame{ID: id, Error: e}) // cannot fail: strings
	return b
}

// answerError queues an error frame from the reader; it reports false if
// the connection ended while the answer queue was full.
func (c *conn) answerError(id reqID, e *coderclaw.Error) bool {
	b, _ := json.Marshal(errorFrame{ID: id, Error: e}) // cannot fail: strings
	return c.queueAnswer(b, true)
}

// queueAnswer queues a frame for the writer. The reader waits while
// maxQueuedAnswers are queued (wait); request goroutines, bounded in
// number, never do. It reports false if the connection ended first.
func (c *conn) queueAnswer(b []byte, wait bool) bool {
	for {
		c.mu.Lock()
		if !wait || len(c.answers) < maxQueuedAnswers {
			c.answers = append(c.answers, b)
			c.mu.Unlock()
			signal(c.wake)
			return true
		}
		c.mu.Unlock()
		select {
		case <-c.answerRoom:
		case <-c.ctx.Done():
			return false
		}
	}
}

// writeLoop writes queued frames, each under its own deadline, until the
// connection ends.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		b, ok := c.next()
		if !ok {
			select {
			case <-c.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			c.fail(fmt.Errorf("write frame: %w", err))
			return
		}
	}
}

// next takes the next frame to write: answers and stream frames in turn,
// and the subscriptions with queued frames round-robin.
func (c *conn) next() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers) > 0 && (!c.streamTurn || len(c.ready) == 0) {
		c.streamTurn = true
		b := c.answers[0]
		c.answers[0] = nil
		c.answers = c.answers[1:]
		signal(c.answerRoom)
		return b, true
	}
	for len(c.ready) > 0 {
		c.streamTurn = false
		s := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		if len(s.queue) == 0 {
			s.queued = false
			continue
		}
		f := s.queue[0]
		s.queue[0] = outFrame{}
		s.queue = s.queue[1:]
		if f.seq > 0 {
			s.lastSeq = f.seq
		}
		if len(s.queue) > 0 {
			c.ready = append(c.ready, s)
		} else {
			s.queued = false
			s.queue = nil
			signal(s.room)
		}
		if f.final && c.subs[s.id] == s {
			delete(c.subs, s.id)
		}
		return f.data, true
	}
	return nil, false
}

// keepalive pings the client every PingInterval and closes the connection
// when a pong does not come back in time; on Shutdown it closes the
// connection with status 1001.
func (c *conn) keepalive() {
	defer c.wg.Done()
	t := time.NewTicker(c.h.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.goingAway:
			// The reader sees the client's answering close frame and ends
			// the connection.
			cause := errShutdown
			if err := c.ws.Close(websocket.StatusGoingAway, "node shutting down"); err != nil {
				cause = fmt.Errorf("%w: close: %w", errShutdown, err)
			}
			c.fail(cause)
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.PongTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				if c.ctx.Err() == nil {
					c.log.Info("ws: client does not answer pings, connection closed", "err", err)
				}
				c.fail(fmt.Errorf("ping: %w", err))
				return
			}
		}
	}
}

// errShutdown is why Handler.Shutdown ends a connection.
var errShutdown = errors.New("node shutting down")

// signal wakes the receiver of a channel of capacity 1 without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
