// Package access is the one seam every request passes through, whatever
// its transport: CaptureCredentials (an http.Handler middleware in front of
// REST, SSE, WebSocket and gRPC alike) records what a request presents, and
// Guard wraps a coderclaw.Runtime so that every call first authenticates
// those credentials into a coderclaw.Principal and then asks an Authorizer
// whether the principal may make the call. Failures are *coderclaw.Error
// values (unauthenticated, forbidden), so each transport reports them in
// its own native way through its one error mapping.
//
// This package holds the seam and the node-level policies that exist
// without an identity system: Local (everyone on loopback is the local
// user) and Token (one shared bearer token). The security layer plugs its
// users, sessions, roles and policies in behind the same interfaces.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"iter"
	"net"
	"net/http"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
)

// Credentials are what a request presents.
type Credentials struct {
	// Token is the bearer token of the Authorization header, if any.
	Token string
	// RemoteAddr is the peer address.
	RemoteAddr string
}

// String never shows the token.
func (c Credentials) String() string {
	if c.Token != "" {
		return "bearer [redacted] from " + c.RemoteAddr
	}
	return "anonymous from " + c.RemoteAddr
}

// Loopback reports whether the request came from this machine.
func (c Credentials) Loopback() bool {
	host, _, err := net.SplitHostPort(c.RemoteAddr)
	if err != nil {
		host = c.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type credentialsKey struct{}

// WithCredentials returns a context carrying a request's credentials.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFrom returns the credentials a request presented; a context
// without any (an in-process caller) yields the zero value.
func CredentialsFrom(ctx context.Context) Credentials {
	c, _ := ctx.Value(credentialsKey{}).(Credentials)
	return c
}

// CaptureCredentials records each request's credentials in its context.
func CaptureCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := Credentials{RemoteAddr: r.RemoteAddr}
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, ok := strings.Cut(h, " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				c.Token = strings.TrimSpace(tok)
			}
		}
		next.ServeHTTP(w, r.WithContext(WithCredentials(r.Context(), c)))
	})
}

// Authenticated serves next only to requests authn accepts, answering
// others with 401 and a JSON error body; it guards the node's plain HTTP
// endpoints (metrics) that do not go through a Runtime.
func Authenticated(authn Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := authn.Authenticate(r.Context(), CredentialsFrom(r.Context())); err != nil {
			e := coderclaw.AsError(err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(struct {
				Error *coderclaw.Error `json:"error"`
			}{e})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Authenticator turns credentials into a principal, or fails with an
// *coderclaw.Error of code unauthenticated.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (coderclaw.Principal, error)
}

// Operation is a runtime call to authorize.
type Operation struct {
	// Name is the Runtime method: submit, task, tasks, events, stream,
	// cancel, respond, agents, skills, status.
	Name string
	// TaskID is the task the call targets, if any.
	TaskID string
	// Submit is the request of a submit call.
	Submit *coderclaw.SubmitRequest
}

// Authorizer decides whether a principal may make a call, failing with an
// *coderclaw.Error of code forbidden (or not_found, to hide a task the
// principal may not know of).
type Authorizer interface {
	Authorize(ctx context.Context, p coderclaw.Principal, op Operation) error
}

// Local authenticates every request from this machine as the local user,
// who may do everything; requests from elsewhere are refused. It is the
// policy of a local-only node without requireAuth.
type Local struct{}

// Authenticate implements Authenticator.
func (Local) Authenticate(_ context.Context, c Credentials) (coderclaw.Principal, error) {
	if c.RemoteAddr != "" && !c.Loopback() {
		return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "this node accepts only local requests without authentication")
	}
	return coderclaw.Principal{UserID: "local", Method: "local", Roles: []string{"admin"}}, nil
}

// Token authenticates requests that present one shared bearer token (the
// node's CODERCLAW_TOKEN) as the node's operator.
type Token struct {
	sum [sha256.Size]byte
}

// NewToken returns a Token authenticator for the secret; only its hash is
// kept.
func NewToken(secret string) *Token { return &Token{sum: sha256.Sum256([]byte(secret))} }

// Authenticate implements Authenticator in constant time.
func (t *Token) Authenticate(_ context.Context, c Credentials) (coderclaw.Principal, error) {
	if c.Token == "" {
		return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "authentication required: send Authorization: Bearer TOKEN")
	}
	got := sha256.Sum256([]byte(c.Token))
	if subtle.ConstantTimeCompare(got[:], t.sum[:]) != 1 {
		return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "invalid token")
	}
	return coderclaw.Principal{UserID: "operator", Method: "token", Roles: []string{"admin"}}, nil
}

// Route picks, for each request's credentials, the Authenticator that
// decides them (by token prefix, say).
type Route func(c Credentials) Authenticator

// Authenticate implements Authenticator.
func (r Route) Authenticate(ctx context.Context, c Credentials) (coderclaw.Principal, error) {
	return r(c).Authenticate(ctx, c)
}

// Refuse fails every request with an unauthenticated error carrying the
// message.
type Refuse string

// Authenticate implements Authenticator.
func (r Refuse) Authenticate(context.Context, Credentials) (coderclaw.Principal, error) {
	return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "%s", string(r))
}

// AllowAll authorizes every call of an authenticated principal.
type AllowAll struct{}

// Authorize implements Authorizer.
func (AllowAll) Authorize(context.Context, coderclaw.Principal, Operation) error { return nil }

// Auditor receives an entry for every decision the guard makes and for the
// outcome of every state-changing call; Post must not block on I/O.
type Auditor interface {
	Post(ctx context.Context, e audit.Entry) error
}

// Syncer is an Auditor whose posted entries a reader can wait for.
type Syncer interface {
	Sync(ctx context.Context) error
}

// GuardOption configures Guard.
type GuardOption func(*guard)

// WithIsolation confines principals with a session to that session's
// tasks unless seesAll says their roles grant more: their submissions
// belong to the session, listings show only its tasks, and another
// session's task answers not_found, as if it did not exist.
func WithIsolation(seesAll func(ctx context.Context, p coderclaw.Principal) bool) GuardOption {
	return func(g *guard) { g.seesAll = seesAll }
}

// WithAuditor records every decision (allowed or denied, with its reason)
// and the outcome of every call that changes state.
func WithAuditor(a Auditor) GuardOption { return func(g *guard) { g.audit = a } }

// Guard wraps rt so that every call is authenticated and authorized first;
// the call then runs with the principal in its context.
func Guard(rt coderclaw.Runtime, authn Authenticator, authz Authorizer, opts ...GuardOption) coderclaw.Runtime {
	g := &guard{rt: rt, authn: authn, authz: authz}
	for _, o := range opts {
		o(g)
	}
	return g
}

type guard struct {
	rt    coderclaw.Runtime
	authn Authenticator
	authz Authorizer
	audit Auditor
	// seesAll, when set, isolates sessions (WithIsolation).
	seesAll func(ctx context.Context, p coderclaw.Principal) bool
}

var _ coderclaw.Runtime = (*guard)(nil)

// mutating lists the operations whose outcome is audited after the call;
// for the others the decision is the record.
func mutating(op string) bool { return op == "submit" || op == "cancel" || op == "respond" }

func (g *guard) check(ctx context.Context, op Operation) (context.Context, coderclaw.Principal, error) {
	p, err := g.authn.Authenticate(ctx, CredentialsFrom(ctx))
	if err != nil {
		g.record(ctx, coderclaw.Principal{}, op, op.TaskID, err)
		return ctx, p, err
	}
	err = g.authz.Authorize(ctx, p, op)
	if err == nil && op.TaskID != "" && g.isolated(ctx, p) {
		err = g.ownTask(ctx, p, op.TaskID)
	}
	if err != nil || !mutating(op.Name) {
		g.record(ctx, p, op, op.TaskID, err)
	}
	if err != nil {
		return ctx, p, err
	}
	return coderclaw.WithPrincipal(ctx, p), p, nil
}

// record posts an audit entry; a failure to queue it is the auditor's to
// report, never the caller's.
func (g *guard) record(ctx context.Context, p coderclaw.Principal, op Operation, taskID string, err error) {
	if g.audit == nil {
		return
	}
	action, resource := auditName(op.Name)
	e := audit.Decision(p, action, resource, taskID, err)
	if err == nil && mutating(op.Name) {
		e.Result = audit.ResultOK
	}
	_ = g.audit.Post(ctx, e)
}

// isolated reports whether p is confined to its session's tasks.
func (g *guard) isolated(ctx context.Context, p coderclaw.Principal) bool {
	return g.seesAll != nil && p.SessionID != "" && !g.seesAll(ctx, p)
}

// ownTask refuses a task of another session as not found.
func (g *guard) ownTask(ctx context.Context, p coderclaw.Principal, id string) error {
	t, err := g.rt.Task(ctx, id)
	if err != nil {
		return err
	}
	if t.SessionID != p.SessionID {
		return coderclaw.Errorf(coderclaw.CodeNotFound, "task %q not found", id)
	}
	return nil
}

// auditName is the audit action and resource type of an operation.
func auditName(op string) (action, resource string) {
	switch op {
	case "task":
		return "task.read", "task"
	case "tasks":
		return "task.list", "task"
	case "agents":
		return "agent.list", "agent"
	case "skills":
		return "skill.list", "skill"
	case "status":
		return "node.status", "node"
	}
	return "task." + op, "task"
}

// done records the outcome of a state-changing call.
func (g *guard) done(ctx context.Context, p coderclaw.Principal, op Operation, t coderclaw.Task, err error) {
	id := t.ID
	if id == "" {
		id = op.TaskID
	}
	g.record(ctx, p, op, id, err)
}

func (g *guard) Submit(ctx context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	op := Operation{Name: "submit", Submit: &req}
	ctx, p, err := g.check(ctx, op)
	if err != nil {
		return coderclaw.Task{}, err
	}
	if p.SessionID != "" && g.seesAll != nil {
		req.SessionID = p.SessionID // a session's tasks are its own
	}
	if req.ParentID != "" && g.isolated(ctx, p) {
		if err := g.ownTask(ctx, p, req.ParentID); err != nil {
			if coderclaw.ErrorCode(err) == coderclaw.CodeNotFound {
				err = coderclaw.Errorf(coderclaw.CodeInvalid, "parent_id: no task %q", req.ParentID)
			}
			g.done(ctx, p, op, coderclaw.Task{}, err)
			return coderclaw.Task{}, err
		}
	}
	t, err := g.rt.Submit(ctx, req)
	g.done(ctx, p, op, t, err)
	return t, err
}

func (g *guard) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	ctx, p, err := g.check(ctx, Operation{Name: "task", TaskID: id})
	if err != nil {
		return coderclaw.Task{}, err
	}
	t, err := g.rt.Task(ctx, id)
	if err == nil && g.isolated(ctx, p) {
		// A parent shows only the children of the caller's session.
		own := t.Children[:0]
		for _, c := range t.Children {
			if c.SessionID == p.SessionID {
				own = append(own, c)
			}
		}
		t.Children = own
	}
	return t, err
}

func (g *guard) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	ctx, p, err := g.check(ctx, Operation{Name: "tasks"})
	if err != nil {
		return coderclaw.TaskPage{}, err
	}
	if g.isolated(ctx, p) {
		if f.SessionID != "" && f.SessionID != p.SessionID {
			return coderclaw.TaskPage{Tasks: []coderclaw.Task{}}, nil
		}
		f.SessionID = p.SessionID
	}
	return g.rt.Tasks(ctx, f)
}

func (g *guard) Events(ctx context.Context, id string) ([]coderclaw.Event, error) {
	ctx, _, err := g.check(ctx, Operation{Name: "events", TaskID: id})
	if err != nil {
		return nil, err
	}
	return g.rt.Events(ctx, id)
}

func (g *guard) Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
		ctx, _, err := g.check(ctx, Operation{Name: "stream", TaskID: id})
		if err != nil {
			yield(coderclaw.Event{}, err)
			return
		}
		for ev, err := range g.rt.Stream(ctx, id, afterSeq) {
			if !yield(ev, err) {
				return
			}
		}
	}
}

func (g *guard) Cancel(ctx context.Context, id string) (coderclaw.Task, error) {
	op := Operation{Name: "cancel", TaskID: id}
	ctx, p, err := g.check(ctx, op)
	if err != nil {
		return coderclaw.Task{}, err
	}
	t, err := g.rt.Cancel(ctx, id)
	g.done(ctx, p, op, t, err)
	return t, err
}

func (g *guard) Respond(ctx context.Context, id, input string) (coderclaw.Task, error) {
	op := Operation{Name: "respond", TaskID: id}
	ctx, p, err := g.check(ctx, op)
	if err != nil {
		return coderclaw.Task{}, err
	}
	t, err := g.rt.Respond(ctx, id, input)
	g.done(ctx, p, op, t, err)
	return t, err
}

func (g *guard) Agents(ctx context.Context) ([]coderclaw.Agent, error) {
	ctx, _, err := g.check(ctx, Operation{Name: "agents"})
	if err != nil {
		return nil, err
	}
	return g.rt.Agents(ctx)
}

func (g *guard) Skills(ctx context.Context) ([]coderclaw.Skill, error) {
	ctx, _, err := g.check(ctx, Operation{Name: "skills"})
	if err != nil {
		return nil, err
	}
	return g.rt.Skills(ctx)
}

func (g *guard) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	ctx, _, err := g.check(ctx, Operation{Name: "status"})
	if err != nil {
		return coderclaw.NodeStatus{}, err
	}
	return g.rt.Status(ctx)
}
