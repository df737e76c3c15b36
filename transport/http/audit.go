package http

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/audit"
)

// AuditOptions configures NewAuditHandler.
type AuditOptions struct {
	// Store is the audit log. Required.
	Store audit.Store
	// Authenticator turns a request's credentials into a principal.
	Authenticator access.Authenticator
	// Admin reports whether a principal may read everyone's activity and
	// verify the chain; others may read only their own activity.
	Admin func(ctx context.Context, p coderclaw.Principal) bool
	// Auditor records reads of the audit log; nil records nothing.
	Auditor access.Auditor
}

const auditUserRoute = "GET /api/audit/users/{id}/activity"

// auditHandler serves the audit routes of NewHandler (see the package
// documentation); without HandlerOptions.Audit they answer 501.
//
// Records come newest first as {"records": [...], "next_cursor": "..."}.
// An admin may query anything; anyone else only their own user or session
// (403 otherwise).
type auditHandler struct {
	opts *AuditOptions
	json *handler // for its JSON and error writers
}

// unconfigured answers when the node has no audit log.
func (h *auditHandler) unconfigured(w http.ResponseWriter, r *http.Request) bool {
	if h.opts != nil && h.opts.Store != nil {
		return false
	}
	h.json.writeErrorStatus(w, r, http.StatusNotImplemented, coderclaw.Errorf(coderclaw.CodeUnavailable,
		"this node keeps no audit log"))
	return true
}

func (h *auditHandler) principal(w http.ResponseWriter, r *http.Request) (coderclaw.Principal, bool) {
	p, err := h.opts.Authenticator.Authenticate(r.Context(), access.CredentialsFrom(r.Context()))
	if err != nil {
		h.record(r.Context(), p, "audit.read", "", err)
		h.json.writeError(w, r, err)
		return p, false
	}
	return p, true
}

// sync waits until the decisions posted before this read are stored, so a
// query sees them.
func (h *auditHandler) sync(ctx context.Context) {
	if s, ok := h.opts.Auditor.(access.Syncer); ok {
		_ = s.Sync(ctx) // a failed append is the auditor's to report
	}
}

func (h *auditHandler) record(ctx context.Context, p coderclaw.Principal, action, id string, err error) {
	if h.opts.Auditor != nil {
		_ = h.opts.Auditor.Post(ctx, audit.Decision(p, action, "audit", id, err))
	}
}

func (h *auditHandler) events(w http.ResponseWriter, r *http.Request) {
	if h.unconfigured(w, r) {
		return
	}
	p, ok := h.principal(w, r)
	if !ok {
		return
	}
	q, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		h.json.writeError(w, r, err)
		return
	}
	switch {
	case r.PathValue("id") == "":
	case r.Pattern == auditUserRoute:
		q.UserID = r.PathValue("id")
	default:
		q.SessionID = r.PathValue("id")
	}
	own := (q.UserID != "" && q.UserID == p.UserID) || (q.SessionID != "" && q.SessionID == p.SessionID)
	if !own && !h.opts.Admin(r.Context(), p) {
		err := coderclaw.Errorf(coderclaw.CodeForbidden, "reading the audit log beyond your own activity needs the admin:all permission")
		h.record(r.Context(), p, "audit.read", q.UserID+q.SessionID, err)
		h.json.writeError(w, r, err)
		return
	}
	h.sync(r.Context())
	page, err := h.opts.Store.Query(r.Context(), q)
	h.record(r.Context(), p, "audit.read", q.UserID+q.SessionID, err)
	if err != nil {
		h.json.writeError(w, r, err)
		return
	}
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	h.json.writeJSON(w, r, http.StatusOK, page)
}

func (h *auditHandler) verify(w http.ResponseWriter, r *http.Request) {
	if h.unconfigured(w, r) {
		return
	}
	p, ok := h.principal(w, r)
	if !ok {
		return
	}
	if !h.opts.Admin(r.Context(), p) {
		err := coderclaw.Errorf(coderclaw.CodeForbidden, "verifying the audit log needs the admin:all permission")
		h.record(r.Context(), p, "audit.verify", "", err)
		h.json.writeError(w, r, err)
		return
	}
	h.sync(r.Context())
	rep, err := audit.Verify(r.Context(), h.opts.Store)
	h.record(r.Context(), p, "audit.verify", "", err)
	if err != nil {
		h.json.writeError(w, r, err)
		return
	}
	h.json.writeJSON(w, r, http.StatusOK, rep)
}

// parseAuditQuery reads an audit query from URL parameters.
func parseAuditQuery(v url.Values) (audit.Query, error) {
	var q audit.Query
	for k := range v {
		switch k {
		case "user_id", "session_id", "action", "resource_type", "resource_id", "result", "since", "until", "limit", "cursor":
		default:
			return q, invalidf("unknown query parameter %q (known: user_id, session_id, action, resource_type, resource_id, result, since, until, limit, cursor)", k)
		}
	}
	q.UserID, q.SessionID, q.Action = v.Get("user_id"), v.Get("session_id"), v.Get("action")
	q.ResourceType, q.ResourceID, q.Result, q.Cursor = v.Get("resource_type"), v.Get("resource_id"), v.Get("result"), v.Get("cursor")
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(t.name); s != "" {
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, invalidf("%s: want an RFC 3339 time, got %q", t.name, s)
			}
			*t.dst = tm
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, invalidf("limit: want an integer, got %q", s)
		}
		q.Limit = n
	}
	if err := q.Validate(); err != nil {
		return q, err
	}
	return q, nil
}
