package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/coderclaw/coderclaw"
)

// DefaultPath is where a node serves the protocol; Dial uses it when the
// address has no path.
const DefaultPath = "/api/runtime/ws"

// Defaults of the client options.
const (
	DefaultHandshakeTimeout      = 10 * time.Second
	DefaultClientMaxMessageBytes = 64 << 20
	DefaultReconnectMin          = 50 * time.Millisecond
	DefaultReconnectMax          = 2 * time.Second
	DefaultReconnectGiveUp       = time.Minute
)

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	httpClient       *http.Client
	ownTransport     *http.Transport // closed by Close when the Client made it
	header           http.Header
	logger           *slog.Logger
	handshakeTimeout time.Duration
	pingInterval     time.Duration
	pongTimeout      time.Duration
	writeTimeout     time.Duration
	maxMessageBytes  int64
	streamBuffer     int
	reconnectMin     time.Duration
	reconnectMax     time.Duration
	giveUp           time.Duration
}

// WithHTTPClient makes the Client open its connections through hc (for TLS
// settings or a proxy). By default it uses its own transport, which Close
// releases.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(o *clientOptions) { o.httpClient = hc }
}

// WithHeader adds headers (an Authorization header, say) to every
// handshake.
func WithHeader(h http.Header) ClientOption {
	return func(o *clientOptions) { o.header = h.Clone() }
}

// WithLogger makes the Client log connection losses and reconnections;
// by default it logs nothing.
func WithLogger(l *slog.Logger) ClientOption {
	return func(o *clientOptions) { o.logger = l }
}

// WithHandshakeTimeout bounds opening a connection: the TCP dial and
// reading the handshake answer. Default DefaultHandshakeTimeout.
func WithHandshakeTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.handshakeTimeout = d }
}

// WithKeepalive sets the period of the Client's pings and how long each
// waits for its pong before the connection is considered dead. Defaults
// DefaultPingInterval and DefaultPongTimeout.
func WithKeepalive(interval, pongTimeout time.Duration) ClientOption {
	return func(o *clientOptions) { o.pingInterval, o.pongTimeout = interval, pongTimeout }
}

// WithWriteTimeout bounds the write of each frame; default
// DefaultWriteTimeout.
func WithWriteTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.writeTimeout = d }
}

// WithMaxMessageBytes bounds one message from the node (an answer or an
// event); default DefaultClientMaxMessageBytes. A larger one closes the
// connection.
func WithMaxMessageBytes(n int64) ClientOption {
	return func(o *clientOptions) { o.maxMessageBytes = n }
}

// WithStreamBuffer bounds the events a stream holds for a caller that is
// slower than the node; default DefaultStreamBuffer. A stream that fills
// it asks the node to stop sending and subscribes again, after the last
// event it yielded, once the caller has caught up.
func WithStreamBuffer(n int) ClientOption {
	return func(o *clientOptions) { o.streamBuffer = n }
}

// WithReconnect sets how streams reconnect after a lost connection: the
// wait starts at first and doubles up to limit, and a stream gives up
// after failing for giveUp in a row. Defaults DefaultReconnectMin,
// DefaultReconnectMax, DefaultReconnectGiveUp.
func WithReconnect(first, limit, giveUp time.Duration) ClientOption {
	return func(o *clientOptions) { o.reconnectMin, o.reconnectMax, o.giveUp = first, limit, giveUp }
}

func (o *clientOptions) validate() error {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"handshake timeout", &o.handshakeTimeout, DefaultHandshakeTimeout},
		{"ping interval", &o.pingInterval, DefaultPingInterval},
		{"pong timeout", &o.pongTimeout, DefaultPongTimeout},
		{"write timeout", &o.writeTimeout, DefaultWriteTimeout},
		{"reconnect min", &o.reconnectMin, DefaultReconnectMin},
		{"reconnect max", &o.reconnectMax, DefaultReconnectMax},
		{"reconnect give-up", &o.giveUp, DefaultReconnectGiveUp},
	} {
		switch {
		case *d.v < 0:
			return invalidf("%s: %v is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if o.reconnectMax < o.reconnectMin {
		return invalidf("reconnect max %v is below reconnect min %v", o.reconnectMax, o.reconnectMin)
	}
	switch {
	case o.maxMessageBytes < 0:
		return invalidf("max message bytes: %d is negative", o.maxMessageBytes)
	case o.maxMessageBytes == 0:
		o.maxMessageBytes = DefaultClientMaxMessageBytes
	}
	switch {
	case o.streamBuffer < 0:
		return invalidf("stream buffer: %d is negative", o.streamBuffer)
	case o.streamBuffer == 0:
		o.streamBuffer = DefaultStreamBuffer
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.httpClient == nil {
		o.ownTransport = http.DefaultTransport.(*http.Transport).Clone()
		o.httpClient = &http.Client{Transport: o.ownTransport}
	}
	return nil
}

// Client is a coderclaw.Runtime that talks to a node over one WebSocket
// connection, shared by every call and stream. It is safe for concurrent
// use. When the connection is lost, the next call opens a new one; calls
// that were waiting for an answer fail with code unavailable (the request
// may or may not have taken effect, and is never sent again), and streams
// reconnect and resume on their own.
type Client struct {
	url  string
	opts clientOptions
	log  *slog.Logger

	ids       atomic.Int64  // request ids: 1, 2, 3, ...
	lags      atomic.Int64  // lagged frames received, for tests
	overflows atomic.Int64  // streams whose caller fell behind, for tests
	dialing   chan struct{} // cap 1: one connection attempt at a time
	wg        sync.WaitGroup

	mu     sync.Mutex
	cur    *clientConn
	closed bool
}

var _ coderclaw.Runtime = (*Client)(nil)

// Dial connects to the node whose protocol endpoint is at rawURL, such as
// ws://127.0.0.1:7420/api/runtime/ws (http and https are read as ws and
// wss; an address without a path gets DefaultPath). If no node answers it
// returns a *coderclaw.Error with code unavailable whose message names the
// address and the reason; a malformed address is invalid.
func Dial(ctx context.Context, rawURL string, opts ...ClientOption) (*Client, error) {
	u, err := endpoint(rawURL)
	if err != nil {
		return nil, err
	}
	var o clientOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Client{url: u, opts: o, log: o.logger, dialing: make(chan struct{}, 1)}
	if _, err := c.connect(ctx); err != nil {
		c.closeTransport()
		return nil, err
	}
	return c, nil
}

// endpoint checks and normalizes a node address.
func endpoint(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", invalidf("node address %q: %v", rawURL, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", invalidf("node address %q: scheme must be ws, wss, http or https", rawURL)
	}
	if u.Host == "" {
		return "", invalidf("node address %q: no host", rawURL)
	}
	if u.User != nil || u.Fragment != "" {
		return "", invalidf("node address %q: must not carry a user or a fragment", rawURL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultPath
	}
	return u.String(), nil
}

// URL returns the endpoint the Client connects to.
func (c *Client) URL() string { return c.url }

// Close closes the connection with status 1000 and waits for the Client's
// goroutines to end. Calls and streams in progress fail with code
// unavailable, and so does every later call.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cc := c.cur
	c.mu.Unlock()
	if cc != nil {
		cc.close()
	}
	c.wg.Wait()
	c.closeTransport()
	return nil
}

func (c *Client) closeTransport() {
	if c.opts.ownTransport != nil {
		c.opts.ownTransport.CloseIdleConnections()
	}
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Client) closedError() *coderclaw.Error {
	return unavailablef("the client of %s is closed", c.url)
}

// current returns the live connection, if any.
func (c *Client) current() (*clientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, c.closedError()
	}
	if c.cur != nil && c.cur.ctx.Err() == nil {
		return c.cur, nil
	}
	return nil, nil
}

// connect returns the live connection, opening one if there is none.
func (c *Client) connect(ctx context.Context) (*clientConn, error) {
	if cc, err := c.current(); cc != nil || err != nil {
		return cc, err
	}
	select {
	case c.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: %w", c.url, ctx.Err())
	}
	defer func() { <-c.dialing }()
	if cc, err := c.current(); cc != nil || err != nil {
		return cc, err
	}
	ws, maxSend, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = ws.CloseNow()
		return nil, c.closedError()
	}
	c.cur = newClientConn(c, ws, maxSend)
	c.cur.start()
	c.log.Debug("ws: connected", "url", c.url)
	return c.cur, nil
}

// dial opens a WebSocket and reads the node's message limit from the
// handshake answer.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, int64, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.handshakeTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, c.url, &websocket.DialOptions{
		HTTPClient: c.opts.httpClient,
		HTTPHeader: c.opts.header,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("connect to %s: %w", c.url, ctx.Err())
		}
		return nil, 0, c.dialError(dctx, resp, err)
	}
	ws.SetReadLimit(c.opts.maxMessageBytes)
	maxSend := int64(DefaultMaxMessageBytes)
	if n, err := strconv.ParseInt(resp.Header.Get(HeaderMaxMessageBytes), 10, 64); err == nil && n > 0 {
		maxSend = n
	}
	return ws, maxSend, nil
}

// dialError describes a failed handshake: the node's own error if it
// answered with one, else a *coderclaw.Error whose code follows the HTTP
// status, else unavailable.
func (c *Client) dialError(dctx context.Context, resp *http.Response, err error) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		var body errorBody
		if resp.Body != nil {
			b, _ := io.ReadAll(resp.Body)
			if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Code.Valid() {
				return body.Error
			}
		}
		return coderclaw.Errorf(codeForStatus(resp.StatusCode), "the CoderClaw node at %s answered %s to the WebSocket handshake", c.url, resp.Status)
	}
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return unavailablef("no CoderClaw node answers at %s: %s", c.url, netReason(err))
	case dctx.Err() != nil:
		return unavailablef("no CoderClaw node answers at %s: the WebSocket handshake did not finish within %v", c.url, c.opts.handshakeTimeout)
	}
	return unavailablef("no CoderClaw node answers at %s: %s", c.url, netReason(err))
}

// checkID answers for an empty task id as the runtime does for any id it
// does not know.
func checkID(id string) error {
	if id == "" {
		return coderclaw.Errorf(coderclaw.CodeNotFound, "task %q not found", id)
	}
	return nil
}

// call sends a request and decodes its result into out. A request that
// never left (its connection was found lost before the writer took it) is
// sent once more on a new connection; one that may have left never is.
func (c *Client) call(ctx context.Context, method string, params, out any) error {
	for attempt := 1; ; attempt++ {
		err := c.callOnce(ctx, method, params, out)
		var ns *notSentError
		if !errors.As(err, &ns) {
			return err
		}
		if attempt == 2 || ctx.Err() != nil {
			return ns.err
		}
	}
}

// notSentError is the error of a request that certainly did not reach the
// node.
type notSentError struct{ err *coderclaw.Error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

func (c *Client) callOnce(ctx context.Context, method string, params, out any) error {
	cc, err := c.connect(ctx)
	if err != nil {
		return err
	}
	id := c.ids.Add(1)
	b, err := encodeRequest(request{ID: intID(id), Method: method, Params: params})
	if err != nil {
		return err
	}
	if int64(len(b)) > cc.maxSend {
		return invalidf("%s request of %d bytes exceeds the node's message limit of %d bytes", method, len(b), cc.maxSend)
	}
	ch := cc.addCall(id)
	defer cc.removeCall(id)
	if err := cc.send(ctx, b); err != nil {
		var ce *coderclaw.Error
		if errors.As(err, &ce) && !c.isClosed() {
			return &notSentError{err: ce}
		}
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		return c.result(method, r, out)
	case <-cc.ctx.Done():
		select {
		case r := <-ch:
			return c.result(method, r, out)
		default:
		}
		return cc.lostCall(method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// result decodes the answer of a call.
func (c *Client) result(method string, r reply, out any) error {
	switch r.Kind {
	case replyError:
		return r.Err
	case replyResult:
		if err := json.Unmarshal(r.Result, out); err != nil {
			return coderclaw.Errorf(coderclaw.CodeInternal, "malformed %s answer from %s: %v", method, c.url, err)
		}
		return nil
	}
	return coderclaw.Errorf(coderclaw.CodeInternal, "malformed %s answer from %s: not a result", method, c.url)
}

// Submit implements coderclaw.Runtime. A submit whose connection is lost
// before the answer fails with code unavailable and is not sent again: the
// task may have been created.
func (c *Client) Submit(ctx context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	var t coderclaw.Task
	err := c.call(ctx, methodSubmit, req, &t)
	return t, err
}

// Task implements coderclaw.Runtime.
func (c *Client) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.call(ctx, methodTask, taskParams{TaskID: id}, &t)
	return t, err
}

// Tasks implements coderclaw.Runtime.
func (c *Client) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	var p coderclaw.TaskPage
	err := c.call(ctx, methodTasks, f, &p)
	return p, err
}

// Events implements coderclaw.Runtime.
func (c *Client) Events(ctx context.Context, id string) ([]coderclaw.Event, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var r eventsResult
	err := c.call(ctx, methodEvents, taskParams{TaskID: id}, &r)
	return r.Events, err
}

// Cancel implements coderclaw.Runtime.
func (c *Client) Cancel(ctx context.Context, id string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.call(ctx, methodCancel, taskParams{TaskID: id}, &t)
	return t, err
}

// Respond implements coderclaw.Runtime.
func (c *Client) Respond(ctx context.Context, id string, input string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.call(ctx, methodRespond, respondParams{TaskID: id, Input: input}, &t)
	return t, err
}

// Agents implements coderclaw.Runtime.
func (c *Client) Agents(ctx context.Context) ([]coderclaw.Agent, error) {
	var r agentsResult
	err := c.call(ctx, methodAgents, nil, &r)
	return r.Agents, err
}

// Skills implements coderclaw.Runtime.
func (c *Client) Skills(ctx context.Context) ([]coderclaw.Skill, error) {
	var r skillsResult
	err := c.call(ctx, methodSkills, nil, &r)
	return r.Skills, err
}

// Status implements coderclaw.Runtime.
func (c *Client) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	var s coderclaw.NodeStatus
	err := c.call(ctx, methodStatus, nil, &s)
	return s, err
}
