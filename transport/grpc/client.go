package grpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
	"github.com/coderclaw/coderclaw/gen/coderclaw/v1/coderclawv1connect"
)

// Protocol is the wire protocol a Client speaks.
type Protocol string

// The protocols. A Handler serves all three on the same paths.
const (
	// ProtocolGRPC is gRPC over HTTP/2 (h2c for http:// addresses). It is
	// the default.
	ProtocolGRPC Protocol = "grpc"
	// ProtocolConnect is the Connect protocol with binary protobuf, over
	// HTTP/1.1 for http:// addresses (HTTP/2 over TLS).
	ProtocolConnect Protocol = "connect"
	// ProtocolGRPCWeb is gRPC-Web, over HTTP/1.1 for http:// addresses
	// (HTTP/2 over TLS).
	ProtocolGRPCWeb Protocol = "grpcweb"
)

// DefaultUserAgent is the User-Agent of a Client without WithUserAgent.
const DefaultUserAgent = "coderclaw-client"

// Client is a coderclaw.Runtime that talks to a node's RuntimeService. It
// is safe for concurrent use.
type Client struct {
	base      string // scheme, host and path prefix, without a trailing slash
	protocol  Protocol
	hc        *http.Client
	userAgent string
	token     string
	rpc       coderclawv1connect.RuntimeServiceClient
}

var _ coderclaw.Runtime = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithProtocol selects the wire protocol; the default is ProtocolGRPC.
func WithProtocol(p Protocol) ClientOption {
	return func(c *Client) { c.protocol = p }
}

// WithHTTPClient makes the Client send its requests through hc. For gRPC
// over http:// its Transport must speak h2c (http.Protocols with
// SetUnencryptedHTTP2 and without HTTP1). Deadlines come from the contexts
// the Client is given, so hc should have no Timeout, which would cut
// streams.
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

// NewClient returns a Client for the node at baseURL, such as
// http://127.0.0.1:7420 (a path prefix is kept). It does not connect. By
// default it uses its own http.Transport, so CloseIdleConnections
// releases its connections; that transport pings idle HTTP/2 connections
// so that a dead one is noticed and replaced.
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
	c := &Client{base: u.String(), protocol: ProtocolGRPC, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	var copts []connect.ClientOption
	switch c.protocol {
	case ProtocolGRPC:
		copts = append(copts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		copts = append(copts, connect.WithGRPCWeb())
	case ProtocolConnect:
	default:
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "protocol %q: must be %s, %s or %s", c.protocol, ProtocolGRPC, ProtocolConnect, ProtocolGRPCWeb)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport(c.protocol)}
	}
	copts = append(copts, connect.WithReadMaxBytes(DefaultMaxSendBytes))
	c.rpc = coderclawv1connect.NewRuntimeServiceClient(headerClient{c}, c.base, copts...)
	return c, nil
}

// newTransport returns the transport of a Client that was given none.
func newTransport(p Protocol) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var ps http.Protocols
	ps.SetHTTP2(true)
	if p == ProtocolGRPC {
		// gRPC needs HTTP/2: prior knowledge (h2c) on plain TCP.
		ps.SetUnencryptedHTTP2(true)
	} else {
		ps.SetHTTP1(true)
		// One connection per open stream over HTTP/1.1: keep enough.
		tr.MaxIdleConnsPerHost = 32
	}
	tr.Protocols = &ps
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second}
	return tr
}

// headerClient adds the Client's headers to every request.
type headerClient struct{ c *Client }

func (h headerClient) Do(req *http.Request) (*http.Response, error) {
	if h.c.userAgent != "" {
		req.Header.Set("User-Agent", h.c.userAgent)
	}
	if h.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.c.token)
	}
	return h.c.hc.Do(req)
}

// CloseIdleConnections closes the Client's idle connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Protocol returns the protocol the Client speaks.
func (c *Client) Protocol() Protocol { return c.protocol }

// fail converts the error of a call into what the Client returns: ctx's
// error if ctx ended, the node's *coderclaw.Error if it answered, and
// otherwise a *coderclaw.Error describing why no answer came.
func (c *Client) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && !connect.IsWireError(err) {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return c.unreachable(err)
	}
	if connect.IsWireError(cerr) {
		msg := cerr.Message()
		if msg == "" {
			msg = fmt.Sprintf("the CoderClaw node at %s answered %s", c.base, cerr.Code())
		}
		return &coderclaw.Error{Code: codeOf(cerr.Code()), Message: msg}
	}
	if cerr.Code() == connect.CodeUnavailable || isDialError(err) || isNetError(err) {
		return c.unreachable(err)
	}
	return coderclaw.Errorf(codeOf(cerr.Code()), "%s at the CoderClaw node at %s: %s", op, c.base, cerr.Message())
}

// unreachable describes a failure to exchange a call with the node.
func (c *Client) unreachable(err error) *coderclaw.Error {
	if isDialError(err) {
		return coderclaw.Errorf(coderclaw.CodeUnavailable, "no CoderClaw node answers at %s: %s", c.base, netReason(err))
	}
	return coderclaw.Errorf(coderclaw.CodeUnavailable, "lost the connection to the CoderClaw node at %s: %s", c.base, netReason(err))
}

// noTask is the error for an answer that lacks its task.
func (c *Client) noTask(op string) error {
	return coderclaw.Errorf(coderclaw.CodeInternal, "%s: the CoderClaw node at %s answered without a task", op, c.base)
}

// Submit implements coderclaw.Runtime. A request whose checked fields are
// not valid UTF-8, which protobuf cannot carry, is refused here with the
// error the runtime would give.
func (c *Client) Submit(ctx context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	if !submitUTF8(req) {
		if err := req.Validate(); err != nil {
			return coderclaw.Task{}, err
		}
	}
	resp, err := c.rpc.Submit(ctx, connect.NewRequest(submitToProto(req)))
	if err != nil {
		return coderclaw.Task{}, c.fail(ctx, "submit", err)
	}
	if resp.Msg.GetTask() == nil {
		return coderclaw.Task{}, c.noTask("submit")
	}
	return taskFromProto(resp.Msg.GetTask()), nil
}

// submitUTF8 reports whether every string of r is valid UTF-8.
func submitUTF8(r coderclaw.SubmitRequest) bool {
	for _, s := range []string{r.Description, r.Input, r.AgentID, r.ParentID, r.SessionID, r.Project, r.Repo} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for _, m := range []map[string]string{r.Labels, r.Metadata} {
		for k, v := range m {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// Task implements coderclaw.Runtime.
func (c *Client) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	resp, err := c.rpc.GetTask(ctx, connect.NewRequest(&pb.GetTaskRequest{Id: utf8Safe(id)}))
	if err != nil {
		return coderclaw.Task{}, c.fail(ctx, "get task", err)
	}
	if resp.Msg.GetTask() == nil {
		return coderclaw.Task{}, c.noTask("get task")
	}
	return taskFromProto(resp.Msg.GetTask()), nil
}

// Tasks implements coderclaw.Runtime.
func (c *Client) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	resp, err := c.rpc.ListTasks(ctx, connect.NewRequest(filterToProto(f)))
	if err != nil {
		return coderclaw.TaskPage{}, c.fail(ctx, "list tasks", err)
	}
	page := coderclaw.TaskPage{NextCursor: resp.Msg.GetNextCursor(), Tasks: make([]coderclaw.Task, 0, len(resp.Msg.GetTasks()))}
	for _, t := range resp.Msg.GetTasks() {
		page.Tasks = append(page.Tasks, taskFromProto(t))
	}
	return page, nil
}

// Events implements coderclaw.Runtime.
func (c *Client) Events(ctx context.Context, id string) ([]coderclaw.Event, error) {
	resp, err := c.rpc.ListEvents(ctx, connect.NewRequest(&pb.ListEventsRequest{Id: utf8Safe(id)}))
	if err != nil {
		return nil, c.fail(ctx, "list events", err)
	}
	evs := make([]coderclaw.Event, 0, len(resp.Msg.GetEvents()))
	for _, e := range resp.Msg.GetEvents() {
		ev, err := eventFromProto(e)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// Cancel implements coderclaw.Runtime.
func (c *Client) Cancel(ctx context.Context, id string) (coderclaw.Task, error) {
	resp, err := c.rpc.Cancel(ctx, connect.NewRequest(&pb.CancelRequest{Id: utf8Safe(id)}))
	if err != nil {
		return coderclaw.Task{}, c.fail(ctx, "cancel", err)
	}
	if resp.Msg.GetTask() == nil {
		return coderclaw.Task{}, c.noTask("cancel")
	}
	return taskFromProto(resp.Msg.GetTask()), nil
}

// Respond implements coderclaw.Runtime.
func (c *Client) Respond(ctx context.Context, id string, input string) (coderclaw.Task, error) {
	resp, err := c.rpc.Respond(ctx, connect.NewRequest(&pb.RespondRequest{Id: utf8Safe(id), Input: utf8Safe(input)}))
	if err != nil {
		return coderclaw.Task{}, c.fail(ctx, "respond", err)
	}
	if resp.Msg.GetTask() == nil {
		return coderclaw.Task{}, c.noTask("respond")
	}
	return taskFromProto(resp.Msg.GetTask()), nil
}

// Agents implements coderclaw.Runtime.
func (c *Client) Agents(ctx context.Context) ([]coderclaw.Agent, error) {
	resp, err := c.rpc.ListAgents(ctx, connect.NewRequest(&pb.ListAgentsRequest{}))
	if err != nil {
		return nil, c.fail(ctx, "list agents", err)
	}
	out := make([]coderclaw.Agent, 0, len(resp.Msg.GetAgents()))
	for _, a := range resp.Msg.GetAgents() {
		out = append(out, agentFromProto(a))
	}
	return out, nil
}

// Skills implements coderclaw.Runtime.
func (c *Client) Skills(ctx context.Context) ([]coderclaw.Skill, error) {
	resp, err := c.rpc.ListSkills(ctx, connect.NewRequest(&pb.ListSkillsRequest{}))
	if err != nil {
		return nil, c.fail(ctx, "list skills", err)
	}
	out := make([]coderclaw.Skill, 0, len(resp.Msg.GetSkills()))
	for _, s := range resp.Msg.GetSkills() {
		out = append(out, skillFromProto(s))
	}
	return out, nil
}

// Status implements coderclaw.Runtime.
func (c *Client) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	resp, err := c.rpc.GetStatus(ctx, connect.NewRequest(&pb.GetStatusRequest{}))
	if err != nil {
		return coderclaw.NodeStatus{}, c.fail(ctx, "get status", err)
	}
	if resp.Msg.GetStatus() == nil {
		return coderclaw.NodeStatus{}, coderclaw.Errorf(coderclaw.CodeInternal, "get status: the CoderClaw node at %s answered without a status", c.base)
	}
	return statusFromProto(resp.Msg.GetStatus()), nil
}
