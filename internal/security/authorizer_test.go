package security_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/security"
)

func TestAuthorizerOperations(t *testing.T) {
	t.Parallel()
	p := policy(t, "", `agentPolicies:
  - agentId: code-modifier
    allowedRoles: [developer, admin]
    requireDeviceTrust: verified
`, "")
	trust := func(_ context.Context, pr coderclaw.Principal) (security.TrustLevel, error) {
		switch pr.DeviceID {
		case "laptop":
			return security.Verified, nil
		case "lost":
			return security.Untrusted, errors.New("device store unavailable")
		}
		return security.Untrusted, nil
	}
	authz := security.NewAuthorizer(p, trust)
	submit := func(agent string) access.Operation {
		return access.Operation{Name: "submit", Submit: &coderclaw.SubmitRequest{Input: "x", AgentID: agent}}
	}
	dev := coderclaw.Principal{UserID: "dev", Method: "token", Roles: []string{"developer"}, DeviceID: "laptop"}
	devPhone := coderclaw.Principal{UserID: "dev", Method: "token", Roles: []string{"developer"}, DeviceID: "phone"}
	ro := coderclaw.Principal{UserID: "ro", Method: "token", Roles: []string{"readonly"}}
	ci := coderclaw.Principal{UserID: "ci", Method: "token", Roles: []string{"ci"}}
	local := coderclaw.Principal{UserID: "local", Method: security.MethodLocal, Roles: []string{"developer"}}
	tests := []struct {
		p    coderclaw.Principal
		op   access.Operation
		rule string // "" when allowed; "-" for a refusal without a rule
	}{
		{dev, submit("code-modifier"), ""},
		{devPhone, submit("code-modifier"), "repo .coderClaw/security.yaml: agentPolicies[code-modifier].requireDeviceTrust"},
		{local, submit("code-modifier"), ""},
		{ci, submit("code-modifier"), "repo .coderClaw/security.yaml: agentPolicies[code-modifier].allowedRoles"},
		{ci, submit("shell"), ""},
		{ro, submit("shell"), "permission task:submit"},
		{dev, access.Operation{Name: "submit"}, ""},
		{ro, access.Operation{Name: "task", TaskID: "t1"}, ""},
		{ro, access.Operation{Name: "tasks"}, ""},
		{ro, access.Operation{Name: "events", TaskID: "t1"}, ""},
		{ro, access.Operation{Name: "stream", TaskID: "t1"}, ""},
		{ro, access.Operation{Name: "agents"}, ""},
		{ci, access.Operation{Name: "skills"}, ""},
		{ro, access.Operation{Name: "cancel", TaskID: "t1"}, "permission task:cancel"},
		{ci, access.Operation{Name: "cancel", TaskID: "t1"}, "permission task:cancel"},
		{dev, access.Operation{Name: "cancel", TaskID: "t1"}, ""},
		{ro, access.Operation{Name: "respond", TaskID: "t1"}, "permission task:submit"},
		{ci, access.Operation{Name: "respond", TaskID: "t1"}, ""},
		{ro, access.Operation{Name: "status"}, ""},
		{ci, access.Operation{Name: "status"}, "permission config:read"},
		{coderclaw.Principal{UserID: "x"}, access.Operation{Name: "tasks"}, "permission task:read"},
		{dev, access.Operation{Name: "drop-database"}, "-"},
	}
	lost := coderclaw.Principal{UserID: "dev", Method: "session", Roles: []string{"admin"}, DeviceID: "lost"}
	if err := authz.Authorize(context.Background(), lost, access.Operation{Name: "tasks"}); err == nil ||
		coderclaw.ErrorCode(err) != coderclaw.CodeInternal || !strings.Contains(err.Error(), "device store unavailable") {
		t.Errorf("trust lookup failure: %v", err)
	}
	for _, tt := range tests {
		err := authz.Authorize(context.Background(), tt.p, tt.op)
		if tt.rule == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tt.p.UserID, tt.op.Name, err)
			}
			continue
		}
		var ce *coderclaw.Error
		if !errors.As(err, &ce) || ce.Code != coderclaw.CodeForbidden {
			t.Errorf("%s %s: got %v, want forbidden", tt.p.UserID, tt.op.Name, err)
			continue
		}
		if tt.rule != "-" && !strings.HasSuffix(ce.Message, "("+tt.rule+")") {
			t.Errorf("%s %s: message %q does not name %q", tt.p.UserID, tt.op.Name, ce.Message, tt.rule)
		}
	}
}

func TestAuthorizerSubject(t *testing.T) {
	t.Parallel()
	a := security.NewAuthorizer(security.Default(), nil)
	s, err := a.Subject(context.Background(), coderclaw.Principal{UserID: "u", Roles: []string{"ci"}, Method: "token", DeviceID: "d"})
	if err != nil || s.UserID != "u" || len(s.Roles) != 1 || s.Trust != security.Untrusted || s.Local {
		t.Errorf("token principal: %+v", s)
	}
	if s, _ := a.Subject(context.Background(), coderclaw.Principal{UserID: "local", Method: security.MethodLocal}); !s.Local {
		t.Errorf("local principal: %+v", s)
	}
	// access.Local's principal is the local admin: everything is allowed.
	p, err := access.Local{}.Authenticate(context.Background(), access.Credentials{RemoteAddr: "127.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"submit", "task", "tasks", "events", "stream", "cancel", "respond", "agents", "skills", "status"} {
		if err := a.Authorize(context.Background(), p, access.Operation{Name: op}); err != nil {
			t.Errorf("local admin %s: %v", op, err)
		}
	}
}

// TestAuthorizerRepoPolicy: a submission naming a repository is checked
// against that repository's .coderClaw/security.yaml as well.
func TestAuthorizerRepoPolicy(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, ".coderClaw"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, security.RepoPolicyFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("agentPolicies:\n  - agentId: shell\n    allowedRoles: [admin]\n")
	az := security.NewAuthorizer(security.Default(), nil)
	dev := coderclaw.Principal{UserID: "d", Roles: []string{"developer"}, Method: "token"}
	submit := func(repo string) error {
		return az.Authorize(context.Background(), dev, access.Operation{Name: "submit",
			Submit: &coderclaw.SubmitRequest{AgentID: "shell", Input: "x", Repo: repo}})
	}
	if err := submit(""); err != nil {
		t.Errorf("without a repo: %v", err)
	}
	err := submit(repo)
	if coderclaw.ErrorCode(err) != coderclaw.CodeForbidden || !strings.Contains(err.Error(), "agentPolicies[shell].allowedRoles") {
		t.Errorf("repo policy: %v", err)
	}
	write("agentPolicies:\n  - agentId: shell\n    allowedRoles: [nobody]\n")
	if err := submit(repo); coderclaw.ErrorCode(err) != coderclaw.CodeInvalid || !strings.Contains(err.Error(), "security.yaml:3") {
		t.Errorf("broken repo policy: %v", err)
	}
}

// TestNodeEnforceTrust: runtime.yaml's security.enforceTrust turns on the
// node's trust minimum (verified by default).
func TestNodeEnforceTrust(t *testing.T) {
	dev := security.Subject{UserID: "d", Roles: []string{"developer"}, Trust: security.Untrusted}
	pol := security.Default()
	if d := pol.CheckPermission(dev, security.TaskRead); !d.Allowed {
		t.Fatalf("not enforced: %v", d)
	}
	enforced := pol.WithNodeEnforceTrust(true)
	d := enforced.CheckPermission(dev, security.TaskRead)
	if d.Allowed || !strings.Contains(d.String(), "runtime.yaml: security.enforceTrust") {
		t.Errorf("enforced: %v", d)
	}
	dev.Trust = security.Verified
	if d := enforced.CheckPermission(dev, security.TaskRead); !d.Allowed {
		t.Errorf("verified device: %v", d)
	}
	if pol.WithNodeEnforceTrust(false) != pol {
		t.Errorf("off changed the policy")
	}
}
