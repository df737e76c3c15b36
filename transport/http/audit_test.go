package http

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// userAuth authenticates the bearer token as the user of that name.
type userAuth struct{}

func (userAuth) Authenticate(_ context.Context, c access.Credentials) (coderclaw.Principal, error) {
	if c.Token == "" {
		return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "authentication required")
	}
	return coderclaw.Principal{UserID: c.Token, Method: "token"}, nil
}

func TestAuditRoutes(t *testing.T) {
	n := nodetest.New(t)
	al := n.Store.AuditLog()
	now := time.Now()
	if _, err := al.Append(testCtx(t), []audit.Entry{
		{Time: now, Action: "task.submit", UserID: "alice", ResourceType: "task", ResourceID: "a", Result: audit.ResultOK},
		{Time: now, Action: "task.submit", UserID: "bob", ResourceType: "task", ResourceID: "b", Result: audit.ResultOK},
	}); err != nil {
		t.Fatal(err)
	}
	var reads []audit.Entry
	h := NewHandler(n, HandlerOptions{Audit: &AuditOptions{
		Store: al, Authenticator: userAuth{},
		Admin:   func(_ context.Context, p coderclaw.Principal) bool { return p.UserID == "root" },
		Auditor: auditFunc(func(e audit.Entry) { reads = append(reads, e) }),
	}})
	base, _ := serve(t, access.CaptureCredentials(h))
	get := func(path, token string) (int, audit.RecordPage) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := rawClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var page audit.RecordPage
		if resp.StatusCode == 200 && path != "/api/audit/verify" {
			if err := json.Unmarshal(b, &page); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode, page
	}
	if code, _ := get("/api/audit/events", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, page := get("/api/audit/users/alice/activity", "alice"); code != 200 || len(page.Records) != 1 || page.Records[0].UserID != "alice" {
		t.Errorf("own activity: %d %+v", code, page)
	}
	if code, _ := get("/api/audit/users/bob/activity", "alice"); code != 403 {
		t.Errorf("another user's activity: %d", code)
	}
	if code, _ := get("/api/audit/events", "alice"); code != 403 {
		t.Errorf("everything as a non-admin: %d", code)
	}
	if code, page := get("/api/audit/events?action=task.submit", "root"); code != 200 || len(page.Records) != 2 {
		t.Errorf("admin: %d %+v", code, page)
	}
	if code, _ := get("/api/audit/verify", "alice"); code != 403 {
		t.Errorf("verify as a non-admin: %d", code)
	}
	if code, _ := get("/api/audit/verify", "root"); code != 200 {
		t.Errorf("verify as admin: %d", code)
	}
	denied := 0
	for _, e := range reads {
		if e.Result == audit.ResultDenied {
			denied++
		}
	}
	if len(reads) != 7 || denied != 4 {
		t.Errorf("audit reads recorded: %d (%d denied), want 7 (4 denied): %+v", len(reads), denied, reads)
	}
}

type auditFunc func(audit.Entry)

func (f auditFunc) Post(_ context.Context, e audit.Entry) error { f(e); return nil }
