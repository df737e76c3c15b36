package http

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
)

// The coderClawLink portal's clients speak a slightly different dialect of
// this API: they submit with agent_type, prompt and context, and read
// task_id and state from task responses. The wire types below accept and
// produce both, so those clients work unchanged.

// submitBody is the body of POST /api/runtime/tasks/submit.
type submitBody struct {
	coderclaw.SubmitRequest
	// AgentType is coderClawLink's name for agent_id.
	AgentType string `json:"agent_type,omitempty"`
	// Prompt is coderClawLink's name for input.
	Prompt string `json:"prompt,omitempty"`
	// Context is coderClawLink's free-form context; its entries become
	// metadata (non-string values as JSON text) and its "project", when a
	// string, the task's project.
	Context map[string]json.RawMessage `json:"context,omitempty"`
}

// request merges the coderClawLink fields into a SubmitRequest.
func (b submitBody) request() (coderclaw.SubmitRequest, error) {
	req := b.SubmitRequest
	merge := func(field, alias, v, av string) (string, error) {
		switch {
		case av == "":
			return v, nil
		case v == "" || v == av:
			return av, nil
		}
		return "", coderclaw.Errorf(coderclaw.CodeInvalid, "%s and %s disagree: give one of them", field, alias)
	}
	var err error
	if req.AgentID, err = merge("agent_id", "agent_type", req.AgentID, b.AgentType); err != nil {
		return req, err
	}
	if req.Input, err = merge("input", "prompt", req.Input, b.Prompt); err != nil {
		return req, err
	}
	if len(b.Context) == 0 {
		return req, nil
	}
	meta := make(map[string]string, len(req.Metadata)+len(b.Context))
	for k, v := range req.Metadata {
		meta[k] = v
	}
	for k, raw := range b.Context {
		var s string
		val := string(raw)
		if json.Unmarshal(raw, &s) == nil {
			val = s
		}
		if old, ok := meta[k]; ok && old != val {
			return req, coderclaw.Errorf(coderclaw.CodeInvalid, "context[%s] and metadata[%s] disagree", k, k)
		}
		meta[k] = val
		if k == "project" && req.Project == "" && json.Unmarshal(raw, &s) == nil {
			req.Project = s
		}
	}
	req.Metadata = meta
	return req, nil
}

// taskBody is a task as every response carries it: the task's own fields
// plus coderClawLink's task_id and state.
type taskBody struct {
	coderclaw.Task
	TaskID string           `json:"task_id"`
	State  coderclaw.Status `json:"state"`
}

func wireTask(t coderclaw.Task) taskBody {
	return taskBody{Task: t, TaskID: t.ID, State: t.Status}
}

// pageBody is a TaskPage whose tasks carry the coderClawLink fields.
type pageBody struct {
	Tasks      []taskBody `json:"tasks"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func wirePage(p coderclaw.TaskPage) pageBody {
	out := pageBody{Tasks: make([]taskBody, len(p.Tasks)), NextCursor: p.NextCursor}
	for i, t := range p.Tasks {
		out.Tasks[i] = wireTask(t)
	}
	return out
}

// SessionService creates and reads sessions; identity.Service is one.
type SessionService interface {
	User(ctx context.Context, user string) (identity.User, error)
	CreateSession(ctx context.Context, user, device string, roles []string) (string, identity.Session, error)
	Session(ctx context.Context, id string) (identity.Session, error)
}

// SessionOptions serves the coderClawLink session routes.
type SessionOptions struct {
	Service       SessionService
	Authenticator access.Authenticator
	// Admin reports whether a principal may create and read sessions of
	// other users; others only their own.
	Admin func(ctx context.Context, p coderclaw.Principal) bool
}

// sessionRequest is the body of POST /api/runtime/sessions.
type sessionRequest struct {
	UserID   string   `json:"user_id"`
	DeviceID string   `json:"device_id,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// sessionBody is a session as the session routes answer it; Token is set
// only by the creation, which is the one time the secret is shown.
type sessionBody struct {
	identity.Session
	SessionID string `json:"session_id"`
	Token     string `json:"token,omitempty"`
}

// sessions answers the session routes: POST creates a session for a user
// (an admin for anyone, a user for themself) and returns its token once;
// GET reads one. Without a session service they answer 501.
func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	so := h.opts.Sessions
	if so == nil || so.Service == nil {
		h.writeErrorStatus(w, r, http.StatusNotImplemented, coderclaw.Errorf(coderclaw.CodeUnavailable,
			"sessions are not available on this node: it has no identity provider configured"))
		return
	}
	p, err := so.Authenticator.Authenticate(r.Context(), access.CredentialsFrom(r.Context()))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	admin := so.Admin != nil && so.Admin(r.Context(), p)
	if r.Method == http.MethodGet {
		s, err := so.Service.Session(r.Context(), r.PathValue("id"))
		if err == nil && !admin && s.UserID != p.UserID {
			err = coderclaw.Errorf(coderclaw.CodeNotFound, "session %q not found", r.PathValue("id"))
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.writeJSON(w, r, http.StatusOK, sessionBody{Session: s, SessionID: s.ID})
		return
	}
	var req sessionRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.UserID == "" {
		h.writeError(w, r, invalidf("user_id: must not be empty"))
		return
	}
	u, err := so.Service.User(r.Context(), req.UserID)
	if err == nil && !admin && u.ID != p.UserID {
		err = coderclaw.Errorf(coderclaw.CodeForbidden, "only an admin may create sessions for another user")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	secret, s, err := so.Service.CreateSession(r.Context(), u.ID, req.DeviceID, req.Roles)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusCreated, sessionBody{Session: s, SessionID: s.ID, Token: secret})
}
