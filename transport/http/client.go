package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/coderclaw/coderclaw"
)

// Client is a coderclaw.Runtime that talks to a node's HTTP API. It is safe
// for concurrent use.
type Client struct {
	base      *url.URL // scheme, host and path prefix, without a trailing slash
	hc        *http.Client
	userAgent string
	token     string
}

var _ coderclaw.Runtime = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient makes the Client send its requests through hc. The
// Client's deadlines come from the contexts it is given, so hc should have
// no Timeout, which would cut event streams.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) ClientOption {
	return func(c *Client) { c.userAgent = ua }
}

// WithToken sends "Authorization: Bearer token" with every request.
func WithToken(token string) ClientOption {
	return func(c *Client) { c.token = token }
}

// DefaultUserAgent is the User-Agent of a Client without WithUserAgent.
const DefaultUserAgent = "coderclaw-client"

// NewClient returns a Client for the node whose API is at baseURL, such as
// http://127.0.0.1:7420 (a path prefix is kept). It does not connect. By
// default it uses its own http.Transport, so CloseIdleConnections releases
// its connections.
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "node address %q: %v", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "node address %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "node address %q: no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "node address %q: must not carry a query, fragment or user", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{
		base:      u,
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		c.hc = &http.Client{Transport: tr}
	}
	return c, nil
}

// CloseIdleConnections closes the Client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// taskPath is the route of a task; the id is escaped so any id stays one
// path segment.
func taskPath(id string) string { return "/api/runtime/tasks/" + url.PathEscape(id) }

func (c *Client) url(path string, q url.Values) string {
	s := c.base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// newRequest builds a request for path with an optional JSON body.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return nil, fmt.Errorf("build %s %s request: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer func() {
		// Drain what is left (a final newline) so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.errorAnswer(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if !errors.As(err, &syn) && !errors.As(err, &typ) {
			return c.unreachable(err) // the answer was cut off
		}
		return fmt.Errorf("decode answer of %s %s from %s: %w", method, path, c.base, err)
	}
	return nil
}

// send performs req. A failure to reach the node is a *coderclaw.Error
// with code unavailable; a context that ended is returned as its error.
func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err == nil {
		return resp, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctx.Err())
	}
	return nil, c.unreachable(err)
}

// unreachable describes a failure to exchange a request with the node.
func (c *Client) unreachable(err error) *coderclaw.Error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return coderclaw.Errorf(coderclaw.CodeUnavailable, "no CoderClaw node answers at %s: %s", c.base, netReason(err))
	}
	return coderclaw.Errorf(coderclaw.CodeUnavailable, "lost the connection to the CoderClaw node at %s: %s", c.base, netReason(err))
}

// netReason is the innermost useful text of a network error, such as
// "connection refused".
func netReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the node closed the connection"
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// errorAnswer reads a non-2xx answer into a *coderclaw.Error: the body's
// error if it has this package's shape, else one whose code follows the
// status.
func (c *Client) errorAnswer(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body errorBody
	if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Code.Valid() {
		return body.Error
	}
	return coderclaw.Errorf(codeForStatus(resp.StatusCode), "the CoderClaw node at %s answered %s", c.base, resp.Status)
}

// checkID answers for an empty task id, which no route can carry, as the
// runtime does for any id it does not know.
func checkID(id string) error {
	if id == "" {
		return coderclaw.Errorf(coderclaw.CodeNotFound, "task %q not found", id)
	}
	return nil
}

// Submit implements coderclaw.Runtime.
func (c *Client) Submit(ctx context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	var t coderclaw.Task
	err := c.do(ctx, http.MethodPost, "/api/runtime/tasks/submit", nil, req, &t)
	return t, err
}

// Task implements coderclaw.Runtime.
func (c *Client) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.do(ctx, http.MethodGet, taskPath(id), nil, nil, &t)
	return t, err
}

// Tasks implements coderclaw.Runtime.
func (c *Client) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	var p coderclaw.TaskPage
	err := c.do(ctx, http.MethodGet, "/api/runtime/tasks", encodeFilter(f), nil, &p)
	return p, err
}

// Events implements coderclaw.Runtime.
func (c *Client) Events(ctx context.Context, id string) ([]coderclaw.Event, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var b eventsBody
	err := c.do(ctx, http.MethodGet, taskPath(id)+"/events", nil, nil, &b)
	return b.Events, err
}

// Cancel implements coderclaw.Runtime.
func (c *Client) Cancel(ctx context.Context, id string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.do(ctx, http.MethodPost, taskPath(id)+"/cancel", nil, nil, &t)
	return t, err
}

// Respond implements coderclaw.Runtime.
func (c *Client) Respond(ctx context.Context, id string, input string) (coderclaw.Task, error) {
	if err := checkID(id); err != nil {
		return coderclaw.Task{}, err
	}
	var t coderclaw.Task
	err := c.do(ctx, http.MethodPost, taskPath(id)+"/respond", nil, respondRequest{Input: input}, &t)
	return t, err
}

// Agents implements coderclaw.Runtime.
func (c *Client) Agents(ctx context.Context) ([]coderclaw.Agent, error) {
	var b agentsBody
	err := c.do(ctx, http.MethodGet, "/api/runtime/agents", nil, nil, &b)
	return b.Agents, err
}

// Skills implements coderclaw.Runtime.
func (c *Client) Skills(ctx context.Context) ([]coderclaw.Skill, error) {
	var b skillsBody
	err := c.do(ctx, http.MethodGet, "/api/runtime/skills", nil, nil, &b)
	return b.Skills, err
}

// Status implements coderclaw.Runtime.
func (c *Client) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	var s coderclaw.NodeStatus
	err := c.do(ctx, http.MethodGet, "/api/runtime/status", nil, nil, &s)
	return s, err
}
