package skill

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/audit/audittest"
	"github.com/coderclaw/coderclaw/internal/security"
)

// auditLog is a real audit.Logger over an in-memory store.
type auditLog struct {
	*audit.Logger
	store *audittest.Memory
}

func newAuditLog(t *testing.T) auditLog {
	t.Helper()
	store := &audittest.Memory{}
	l, err := audit.New(audit.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	return auditLog{Logger: l, store: store}
}

// records returns every record appended, oldest first.
func (a auditLog) records(t *testing.T) []audit.Record {
	t.Helper()
	if err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	if err := a.store.Scan(context.Background(), 1, func(r audit.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func parsePolicy(t *testing.T, node, repo, team string) *security.Policy {
	t.Helper()
	p, err := security.ParseNode("security.yaml", []byte(node))
	if err != nil {
		t.Fatal(err)
	}
	if team != "" {
		if p, err = p.WithTeam("team-policy.yaml", []byte(team)); err != nil {
			t.Fatal(err)
		}
	}
	if repo != "" {
		if p, err = p.WithRepo(".coderClaw/security.yaml", []byte(repo)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestGuard(t *testing.T) {
	t.Parallel()
	restricted := parsePolicy(t, `
roles:
  tester: {inherits: ci, description: runs tests}
`, `
skillPolicies:
  - {skillId: shell-exec, dangerous: true, allowedRoles: [admin]}
`, `
organizationPolicy:
  deniedSkills: [git-commit]
`)
	dev := func(trust security.TrustLevel) security.Subject {
		return security.Subject{UserID: "u-dev", Roles: []string{"developer"}, Trust: trust}
	}
	tests := []struct {
		name    string
		policy  *security.Policy
		subject security.Subject
		skill   Skill
		rule    string // empty: allowed
		reason  string
	}{
		{"default policy, local developer, dangerous skill", nil,
			security.Subject{UserID: "u-dev", Roles: []string{"developer"}, Local: true}, ShellExec{}, "", ""},
		{"default policy, untrusted developer, safe skill", nil, dev(security.Untrusted), FileRead{}, "", ""},
		{"default policy, untrusted developer, dangerous skill", nil, dev(security.Untrusted), ShellExec{},
			"skill shell-exec: dangerous", "skill shell-exec is dangerous and requires a verified or trusted device; this one is untrusted"},
		{"default policy, verified developer, dangerous skill", nil, dev(security.Verified), RunTests{}, "", ""},
		{"readonly role", nil, security.Subject{UserID: "u-ro", Roles: []string{"readonly"}, Local: true}, FileRead{},
			"permission skill:execute", "permission skill:execute is not granted; the user has the role readonly"},
		{"repo allows admins only", restricted, dev(security.Trusted), ShellExec{},
			"repo .coderClaw/security.yaml: skillPolicies[shell-exec].allowedRoles",
			"skill shell-exec requires one of the roles admin; the user has the role developer"},
		{"repo allows admins only, admin", restricted,
			security.Subject{UserID: "u-admin", Roles: []string{"admin"}, Trust: security.Trusted}, ShellExec{}, "", ""},
		{"custom role", restricted, security.Subject{UserID: "u-t", Roles: []string{"tester"}, Trust: security.Verified}, RunTests{}, "", ""},
		{"organisation denies", restricted, dev(security.Trusted), GitCommit{},
			"org team-policy.yaml: organizationPolicy.deniedSkills", "skill git-commit is denied by the organisation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := newAuditLog(t)
			g := &Guard{Policy: tc.policy, Subject: tc.subject, Audit: log, TaskID: "t-1", AgentID: "code-creator",
				SessionID: "s-1", DeviceID: "d-1"}
			err := g.Check(context.Background(), tc.skill.Info())
			recs := log.records(t)
			if len(recs) != 1 {
				t.Fatalf("%d audit records, want 1", len(recs))
			}
			r := recs[0]
			if r.Action != "skill.execute" || r.ResourceType != "skill" || r.ResourceID != tc.skill.Info().ID ||
				r.UserID != tc.subject.UserID || r.SessionID != "s-1" || r.DeviceID != "d-1" ||
				!strings.HasPrefix(r.Reason, "task t-1, agent code-creator: ") {
				t.Errorf("record %+v", r)
			}
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				if r.Result != audit.ResultAllowed || !strings.Contains(r.Reason, "allowed by ") {
					t.Errorf("record of an allowed call: %+v", r)
				}
				return
			}
			var de *DeniedError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DeniedError", err, err)
			}
			if de.Skill != tc.skill.Info().ID || de.Rule != tc.rule || de.Reason != tc.reason || !de.Denied() {
				t.Errorf("denial %+v", de)
			}
			if want := "denied by policy (" + tc.rule + "): " + tc.reason; err.Error() != want {
				t.Errorf("error text %q, want %q", err, want)
			}
			if r.Result != audit.ResultDenied || !strings.Contains(r.Reason, tc.reason) || !strings.Contains(r.Reason, tc.rule) {
				t.Errorf("record of a denial: %+v", r)
			}
		})
	}
}

func TestGuardAuditFailure(t *testing.T) {
	t.Parallel()
	log := newAuditLog(t)
	if err := log.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := &Guard{Subject: security.Subject{Roles: []string{"developer"}, Local: true}, Audit: log}
	err := g.Check(context.Background(), FileRead{}.Info())
	var de *DeniedError
	if err == nil || errors.As(err, &de) || !errors.Is(err, audit.ErrStopped) || !strings.Contains(err.Error(), "audit record failed") {
		t.Errorf("allowed call without an audit record: %v", err)
	}
	g.Subject.Roles = []string{"readonly"}
	if err := g.Check(context.Background(), FileRead{}.Info()); !errors.As(err, &de) {
		t.Errorf("denied call without an audit record: %v", err)
	}
}

func TestNilGuardDenies(t *testing.T) {
	t.Parallel()
	var g *Guard
	var de *DeniedError
	if err := g.Check(context.Background(), FileRead{}.Info()); !errors.As(err, &de) {
		t.Errorf("nil guard: %v", err)
	}
}

func TestCall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "hello\n"})
	env := Env{Dir: dir}
	log := newAuditLog(t)
	dev := &Guard{Subject: security.Subject{UserID: "u", Roles: []string{"developer"}, Local: true}, Audit: log, TaskID: "t-9"}
	ro := &Guard{Subject: security.Subject{UserID: "u", Roles: []string{"readonly"}, Local: true}, Audit: log, TaskID: "t-9"}
	ctx := context.Background()

	if out, err := Call(ctx, dev, FileRead{}, env, json.RawMessage(` {"path":"a.txt"} `)); err != nil || out != "     1\thello\n" {
		t.Errorf("allowed call: %q, %v", out, err)
	}
	var de *DeniedError
	if _, err := Call(ctx, ro, FileWrite{}, env, json.RawMessage(`{"path":"b.txt","content":"x"}`)); !errors.As(err, &de) {
		t.Errorf("denied call: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a denied write ran: %v", err)
	}
	if out, err := Call(ctx, dev, List{}, env, nil); err != nil || out != "a.txt\n" {
		t.Errorf("empty input: %q, %v", out, err)
	}
	for _, tc := range []struct{ input, want string }{
		{`{"path": "a.txt",`, "input is not valid JSON: unexpected end of JSON input at offset 17"},
		{`{"path" "a.txt"}`, "input is not valid JSON: invalid character '\"' after object key at offset 9"},
		{`["a.txt"]`, "input must be a JSON object, not an array"},
		{`"a.txt"`, "input must be a JSON object, not a string"},
		{`null`, "input must be a JSON object, not null"},
		{`{"path":"a.txt"} {}`, "input is not valid JSON"},
	} {
		_, err := Call(ctx, dev, FileRead{}, env, json.RawMessage(tc.input))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}
	if _, err := Call(ctx, dev, nil, env, nil); err == nil {
		t.Error("call of a nil skill succeeded")
	}
	recs := log.records(t)
	if len(recs) != 9 {
		t.Errorf("%d records, want one per checked call (9)", len(recs))
	}
}
