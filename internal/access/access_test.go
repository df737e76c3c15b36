package access_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/coderclawtest"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestConformanceThroughGuard: the guard changes nothing for an allowed
// principal.
func TestConformanceThroughGuard(t *testing.T) {
	coderclawtest.Run(t, func(t *testing.T) coderclaw.Runtime {
		return access.Guard(nodetest.New(t), access.Local{}, access.AllowAll{})
	})
}

func TestToken(t *testing.T) {
	rt := access.Guard(nodetest.New(t), access.NewToken("s3cret"), access.AllowAll{})
	cases := []struct {
		name  string
		creds access.Credentials
		code  coderclaw.Code
	}{
		{"none", access.Credentials{RemoteAddr: "10.0.0.1:5000"}, coderclaw.CodeUnauthenticated},
		{"wrong", access.Credentials{Token: "guess", RemoteAddr: "10.0.0.1:5000"}, coderclaw.CodeUnauthenticated},
		{"right", access.Credentials{Token: "s3cret", RemoteAddr: "10.0.0.1:5000"}, ""},
	}
	for _, c := range cases {
		ctx := access.WithCredentials(context.Background(), c.creds)
		_, err := rt.Status(ctx)
		if coderclaw.ErrorCode(err) != c.code {
			t.Errorf("%s: status err %v, want code %q", c.name, err, c.code)
		}
		_, err = rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
		if coderclaw.ErrorCode(err) != c.code {
			t.Errorf("%s: submit err %v, want code %q", c.name, err, c.code)
		}
		n := 0
		for _, err := range rt.Stream(ctx, "0190a0f8-0000-7000-8000-000000000000", 0) {
			n++
			want := c.code
			if want == "" {
				want = coderclaw.CodeNotFound
			}
			if coderclaw.ErrorCode(err) != want {
				t.Errorf("%s: stream err %v, want code %q", c.name, err, want)
			}
		}
		if n != 1 {
			t.Errorf("%s: stream yielded %d items", c.name, n)
		}
	}
	if s := (access.Credentials{Token: "s3cret"}).String(); s != "bearer [redacted] from " {
		t.Errorf("credentials print as %q", s)
	}
}

func TestLocalRefusesRemote(t *testing.T) {
	rt := access.Guard(nodetest.New(t), access.Local{}, access.AllowAll{})
	remote := access.WithCredentials(context.Background(), access.Credentials{RemoteAddr: "192.0.2.7:4000"})
	if _, err := rt.Agents(remote); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("remote request: %v", err)
	}
	local := access.WithCredentials(context.Background(), access.Credentials{RemoteAddr: "[::1]:4000"})
	if _, err := rt.Agents(local); err != nil {
		t.Errorf("loopback request: %v", err)
	}
}

func TestCaptureCredentials(t *testing.T) {
	var got access.Credentials
	h := access.CaptureCredentials(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = access.CredentialsFrom(r.Context())
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "bearer abc ")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.Token != "abc" || got.RemoteAddr == "" {
		t.Errorf("captured %+v", got)
	}
	req.Header.Set("Authorization", "Basic abc")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.Token != "" {
		t.Errorf("basic auth taken as a bearer token: %+v", got)
	}
}

// recorder is an Authorizer that records the operations it sees.
type recorder struct{ ops []access.Operation }

func (r *recorder) Authorize(_ context.Context, p coderclaw.Principal, op access.Operation) error {
	r.ops = append(r.ops, op)
	if op.Name == "cancel" {
		return coderclaw.Errorf(coderclaw.CodeForbidden, "%s may not cancel", p.UserID)
	}
	return nil
}

func TestAuthorizerSeesEveryCall(t *testing.T) {
	rec := &recorder{}
	rt := access.Guard(nodetest.New(t), access.Local{}, rec)
	ctx := context.Background()
	task, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range rt.Stream(ctx, task.ID, 0) {
	}
	_, _ = rt.Task(ctx, task.ID)
	_, _ = rt.Events(ctx, task.ID)
	_, _ = rt.Tasks(ctx, coderclaw.Filter{})
	_, _ = rt.Respond(ctx, task.ID, "x")
	_, _ = rt.Agents(ctx)
	_, _ = rt.Skills(ctx)
	_, _ = rt.Status(ctx)
	if _, err := rt.Cancel(ctx, task.ID); coderclaw.ErrorCode(err) != coderclaw.CodeForbidden {
		t.Errorf("cancel: %v, want forbidden", err)
	}
	var names []string
	for _, op := range rec.ops {
		names = append(names, op.Name)
	}
	want := []string{"submit", "stream", "task", "events", "tasks", "respond", "agents", "skills", "status", "cancel"}
	if len(names) != len(want) {
		t.Fatalf("operations %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("operations %v, want %v", names, want)
		}
	}
	if rec.ops[0].Submit == nil || rec.ops[1].TaskID != task.ID {
		t.Errorf("operations lack their targets: %+v", rec.ops[:2])
	}
}

// TestGuardAudits: every decision and every state-changing outcome reaches
// the auditor, with the principal and the task, and no token.
func TestGuardAudits(t *testing.T) {
	mem := &memAuditor{}
	rt := access.Guard(nodetest.New(t), access.NewToken("s3cret"), &recorder{}, access.WithAuditor(mem))
	good := access.WithCredentials(context.Background(), access.Credentials{Token: "s3cret", RemoteAddr: "10.0.0.1:1"})
	bad := access.WithCredentials(context.Background(), access.Credentials{Token: "nope", RemoteAddr: "10.0.0.1:1"})
	task, err := rt.Submit(good, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rt.Task(good, task.ID)
	_, _ = rt.Cancel(good, task.ID) // the recorder forbids cancel
	_, _ = rt.Status(bad)
	want := []string{
		"task.submit ok operator task " + task.ID,
		"task.read allowed operator task " + task.ID,
		"task.cancel denied operator task " + task.ID,
		"node.status denied  node ",
	}
	if len(mem.entries) != len(want) {
		t.Fatalf("audited %d entries, want %d: %+v", len(mem.entries), len(want), mem.entries)
	}
	for i, e := range mem.entries {
		got := e.Action + " " + e.Result + " " + e.UserID + " " + e.ResourceType + " " + e.ResourceID
		if got != want[i] {
			t.Errorf("entry %d: %q, want %q", i, got, want[i])
		}
		if strings.Contains(e.Reason, "s3cret") || strings.Contains(e.Reason, "nope") {
			t.Errorf("entry %d carries a token: %+v", i, e)
		}
	}
	if mem.entries[2].Reason == "" || mem.entries[3].Reason == "" {
		t.Errorf("denials without reasons: %+v", mem.entries)
	}
}

type memAuditor struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (m *memAuditor) Post(_ context.Context, e audit.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return nil
}
