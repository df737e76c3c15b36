package security_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/security"
)

// policy compiles the node, repo and team files given inline; an empty
// string leaves that level out (the node then being the default).
func policy(t testing.TB, node, repo, team string) *security.Policy {
	t.Helper()
	p, err := security.ParseNode("security.yaml", []byte(node))
	if err != nil {
		t.Fatalf("node policy: %v", err)
	}
	if team != "" {
		if p, err = p.WithTeam("team-policy.yaml", []byte(team)); err != nil {
			t.Fatalf("team policy: %v", err)
		}
	}
	if repo != "" {
		if p, err = p.WithRepo(".coderClaw/security.yaml", []byte(repo)); err != nil {
			t.Fatalf("repo policy: %v", err)
		}
	}
	return p
}

func subject(trust security.TrustLevel, roles ...string) security.Subject {
	return security.Subject{UserID: "u1", Roles: roles, Trust: trust}
}

// errorLines returns the messages of a parse error, one per problem.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	all := []error{err}
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		all = m.Unwrap()
	}
	var out []string
	for _, e := range all {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce.Error())
	}
	return out
}

func TestBuiltinRoleMatrix(t *testing.T) {
	t.Parallel()
	const (
		y = true
		n = false
	)
	perms := security.Permissions()
	// Columns in the order of security.Permissions: task:submit, task:read,
	// task:cancel, agent:invoke, skill:execute, config:read, config:write,
	// admin:all.
	matrix := map[string][8]bool{
		"admin":     {y, y, y, y, y, y, y, y},
		"developer": {y, y, y, y, y, y, n, n},
		"readonly":  {n, y, n, n, n, y, n, n},
		"ci":        {y, y, n, y, y, n, n, n},
		"nobody":    {n, n, n, n, n, n, n, n}, // a role no policy defines
	}
	p := security.Default()
	for role, row := range matrix {
		for i, perm := range perms {
			t.Run(role+"/"+string(perm), func(t *testing.T) {
				t.Parallel()
				d := p.CheckPermission(subject(security.Untrusted, role), perm)
				if d.Allowed != row[i] {
					t.Fatalf("%s %s: got %v, want allowed=%v", role, perm, d, row[i])
				}
				if d.Allowed && d.Rule != "built-in role "+role {
					t.Errorf("allowed by %q, want the built-in role", d.Rule)
				}
				if !d.Allowed && (d.Rule != "permission "+string(perm) || d.Reason == "") {
					t.Errorf("denial %+v does not name the permission", d)
				}
			})
		}
	}
	if got := p.CheckPermission(security.Subject{}, security.TaskRead); got.Allowed ||
		got.Reason != "permission task:read is not granted; the user has no roles" {
		t.Errorf("zero subject: %+v", got)
	}
	if got := p.CheckPermission(subject(security.Trusted, "admin"), "task:delete"); got.Allowed ||
		got.Reason != `unknown permission "task:delete"` {
		t.Errorf("unknown permission: %+v", got)
	}
}

func TestBuiltinRoles(t *testing.T) {
	t.Parallel()
	var got []string
	for _, r := range security.Default().Roles() {
		if !r.Builtin {
			t.Errorf("role %s not built in", r.Name)
		}
		got = append(got, r.Name)
	}
	if want := []string{"admin", "developer", "readonly", "ci"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roles %v, want %v", got, want)
	}
}

func TestCustomRoleInheritance(t *testing.T) {
	t.Parallel()
	p := policy(t, `
roles:
  reviewer:
    inherits: readonly
  senior:
    inherits: [reviewer, ci]          # multiple inherits
    additionalPermissions: [task:cancel]
  lead:
    inherits: senior                  # three levels down to readonly
    additionalPermissions: [config:write]
    description: Team lead
  ops:
    inherits: [admin]
  plain:
    description: grants nothing
`, "", "")
	want := map[string][]security.Permission{
		"reviewer": {security.TaskRead, security.ConfigRead},
		"senior":   {security.TaskSubmit, security.TaskRead, security.TaskCancel, security.AgentInvoke, security.SkillExecute, security.ConfigRead},
		"lead":     {security.TaskSubmit, security.TaskRead, security.TaskCancel, security.AgentInvoke, security.SkillExecute, security.ConfigRead, security.ConfigWrite},
		"ops":      {security.AdminAll},
		"plain":    nil,
	}
	got := map[string]security.Role{}
	for _, r := range p.Roles() {
		got[r.Name] = r
	}
	for name, perms := range want {
		r, ok := got[name]
		if !ok || r.Builtin {
			t.Fatalf("role %s: %+v", name, r)
		}
		if !reflect.DeepEqual(r.Permissions, perms) {
			t.Errorf("role %s grants %v, want %v", name, r.Permissions, perms)
		}
		for _, perm := range security.Permissions() {
			has := name == "ops"
			for _, w := range perms {
				has = has || w == perm
			}
			d := p.CheckPermission(subject(security.Untrusted, name), perm)
			if d.Allowed != has {
				t.Errorf("role %s, %s: %v, want %v", name, perm, d, has)
			}
			if d.Allowed && d.Rule != "node security.yaml: roles."+name {
				t.Errorf("role %s, %s: allowed by %q", name, perm, d.Rule)
			}
		}
	}
	if got["lead"].Description != "Team lead" || !reflect.DeepEqual(got["senior"].Inherits, []string{"reviewer", "ci"}) {
		t.Errorf("lead %+v, senior %+v", got["lead"], got["senior"])
	}
	// Several roles grant the union of their permissions.
	if d := p.CheckPermission(subject(security.Untrusted, "plain", "reviewer"), security.TaskRead); !d.Allowed || d.Rule != "node security.yaml: roles.reviewer" {
		t.Errorf("plain+reviewer: %v", d)
	}
}

func TestNodePolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "cycle of two",
			yaml: "roles:\n  a:\n    inherits: b\n  b:\n    inherits: [developer, a]\n",
			want: []string{"security.yaml:2: roles.a: inheritance cycle a -> b -> a"},
		},
		{
			name: "cycle of three found from outside and a self cycle",
			yaml: "roles:\n  entry:\n    inherits: z\n  z:\n    inherits: x\n  x:\n    inherits: y\n  y:\n    inherits: z\n  me:\n    inherits: [me]\n",
			want: []string{
				"security.yaml:6: roles.x: inheritance cycle x -> y -> z -> x",
				"security.yaml:10: roles.me: inheritance cycle me -> me",
			},
		},
		{
			name: "unknown permissions",
			yaml: "roles:\n  ops:\n    inherits: developer\n    additionalPermissions:\n      - config:write\n      - config:delete\n      - config:write\n",
			want: []string{
				`security.yaml:6: roles.ops.additionalPermissions[1]: unknown permission "config:delete" (want one of task:submit, task:read, task:cancel, agent:invoke, skill:execute, config:read, config:write, admin:all)`,
				`security.yaml:7: roles.ops.additionalPermissions[2]: duplicate permission "config:write" (also at index 0)`,
			},
		},
		{
			name: "unknown roles",
			yaml: "roles:\n  ops:\n    inherits: [developer, developers]\nallowedRoles: [ops, admin, root]\n",
			want: []string{
				`security.yaml:3: roles.ops.inherits[1]: unknown role "developers" (defined roles: admin, developer, readonly, ci, ops)`,
				`security.yaml:4: allowedRoles[2]: unknown role "root" (defined roles: admin, developer, readonly, ci, ops)`,
			},
		},
		{
			name: "bad role names",
			yaml: "roles:\n  developer:\n    additionalPermissions: [admin:all]\n  'has space': {}\n  -x: {}\n",
			want: []string{
				`security.yaml:2: roles.developer: redefines the built-in role developer; choose another name and inherit it`,
				`security.yaml:4: roles.has space: a role name must be letters, digits, '-' and '_', starting with a letter or digit, got "has space"`,
				`security.yaml:5: roles.-x: a role name must be letters, digits, '-' and '_', starting with a letter or digit, got "-x"`,
			},
		},
		{
			name: "trust levels and providers",
			yaml: "identity:\n  providers: [github, saml, github]\ndeviceTrust:\n  minimumLevel: high\nminimumTrustLevel: Verified\n",
			want: []string{
				`security.yaml:2: identity.providers[1]: unknown identity provider "saml" (want one of oidc, github, google, local)`,
				`security.yaml:2: identity.providers[2]: duplicate provider "github" (also at index 0)`,
				`security.yaml:4: deviceTrust.minimumLevel: must be trusted, verified or untrusted, got "high"`,
				`security.yaml:5: minimumTrustLevel: must be trusted, verified or untrusted, got "Verified"`,
			},
		},
		{
			name: "unknown keys and wrong types",
			yaml: "enforceTrust: yes please\nroles:\n  ops:\n    inherit: developer\n    additionalPermissions: config:write\nrequireAuth: true\nminimumLevel: verified\n",
			want: []string{
				`security.yaml:1: enforceTrust: must be true or false, got "yes please"`,
				`security.yaml:4: roles.ops: unknown field "inherit" (did you mean "inherits"?)`,
				`security.yaml:5: roles.ops.additionalPermissions: must be a list such as [a, b], got "config:write"`,
				`security.yaml:6: unknown field "requireAuth"`,
				`security.yaml:7: unknown field "minimumLevel" (did you mean "deviceTrust.minimumLevel"?)`,
			},
		},
		{
			name: "syntax",
			yaml: "roles:\n  ops:\n\tinherits: developer\n",
			want: []string{`security.yaml:3: roles.inherits: invalid YAML: found character that cannot start any token (while scanning for the next token); indent with spaces, not tabs`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := security.ParseNode("security.yaml", []byte(tt.yaml))
			if p != nil {
				t.Errorf("got a policy with the error")
			}
			got := errorLines(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestTooManyRoles(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("roles:\n")
	for i := range security.MaxRoles + 1 {
		b.WriteString("  r" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i) + ": {}\n")
	}
	got := errorLines(t, func() error { _, err := security.ParseNode("security.yaml", []byte(b.String())); return err }())
	if len(got) != 1 || got[0] != "security.yaml:1: roles: at most 256 custom roles are allowed, got 257" {
		t.Errorf("got %q", got)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestRepoPolicyErrors(t *testing.T) {
	t.Parallel()
	node := policy(t, "roles:\n  team-developer:\n    inherits: developer\n", "", "")
	const repo = `allowedRoles: [team-developer, tester]
minimumTrustLevel: sure
agentPolicies:
  - agentId: code-reviewer
    allowedRoles: [readonly, reviewer]
    requireDeviceTrust: trusted
  - agentId: code-reviewer
  - allowedRoles: [admin]
  - agentId: "has space"
    requireDeviceTrust: maybe
    denyRoles: [ci]
skillPolicies:
  - skillId: shell-exec
    dangerous: "yes"
    requiredPermissions: [skill:execute, shell:run]
    allowedRoles: [developer, admins]
  - skillId: shell-exec
`
	_, err := node.WithRepo(".coderClaw/security.yaml", []byte(repo))
	want := []string{
		`.coderClaw/security.yaml:1: allowedRoles[1]: unknown role "tester" (defined roles: admin, developer, readonly, ci, team-developer)`,
		`.coderClaw/security.yaml:2: minimumTrustLevel: must be trusted, verified or untrusted, got "sure"`,
		`.coderClaw/security.yaml:5: agentPolicies[0].allowedRoles[1]: unknown role "reviewer" (defined roles: admin, developer, readonly, ci, team-developer)`,
		`.coderClaw/security.yaml:7: agentPolicies[1].agentId: duplicate policy for agent "code-reviewer" (also agentPolicies[0])`,
		`.coderClaw/security.yaml:8: agentPolicies[2].agentId: must not be empty`,
		`.coderClaw/security.yaml:9: agentPolicies[3].agentId: must not contain spaces or control characters, got "has space"`,
		`.coderClaw/security.yaml:10: agentPolicies[3].requireDeviceTrust: must be trusted, verified or untrusted, got "maybe"`,
		`.coderClaw/security.yaml:11: agentPolicies[3]: unknown field "denyRoles"`,
		`.coderClaw/security.yaml:14: skillPolicies[0].dangerous: must be true or false, got "yes"`,
		`.coderClaw/security.yaml:15: skillPolicies[0].requiredPermissions[1]: unknown permission "shell:run" (want one of task:submit, task:read, task:cancel, agent:invoke, skill:execute, config:read, config:write, admin:all)`,
		`.coderClaw/security.yaml:16: skillPolicies[0].allowedRoles[1]: unknown role "admins" (defined roles: admin, developer, readonly, ci, team-developer)`,
		`.coderClaw/security.yaml:17: skillPolicies[1].skillId: duplicate policy for skill "shell-exec" (also skillPolicies[0])`,
	}
	got := errorLines(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A repo file may not name a custom role of another node.
	if _, err := security.Default().WithRepo("r.yaml", []byte("allowedRoles: [team-developer]\n")); err == nil {
		t.Error("the default policy accepted a custom role")
	}
}

func TestTeamPolicyErrors(t *testing.T) {
	t.Parallel()
	const team = `organizationPolicy:
  enforceTrust: true
  minimumTrustLevel: top
  requiredSkills: [security-scanner, lint, lint]
  deniedSkills: [dangerous-exec, security-scanner, ""]
deniedSkills: [x]
`
	_, err := security.Default().WithTeam("team-policy.yaml", []byte(team))
	want := []string{
		`team-policy.yaml:3: organizationPolicy.minimumTrustLevel: must be trusted, verified or untrusted, got "top"`,
		`team-policy.yaml:4: organizationPolicy.requiredSkills[2]: duplicate skill "lint" (also at index 1)`,
		`team-policy.yaml:5: organizationPolicy.deniedSkills[1]: skill "security-scanner" is both denied and required (organizationPolicy.requiredSkills[0])`,
		`team-policy.yaml:5: organizationPolicy.deniedSkills[2]: must not be empty`,
		`team-policy.yaml:6: unknown field "deniedSkills" (did you mean "organizationPolicy.deniedSkills"?)`,
	}
	got := errorLines(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMostRestrictive checks that each level only narrows what the others
// allow, and that each denial names the rule that denied it.
func TestMostRestrictive(t *testing.T) {
	t.Parallel()
	const (
		nodeRoles = "roles:\n  team-developer:\n    inherits: developer\n  auditor:\n    inherits: readonly\n"
		repo      = `allowedRoles: [developer, admin, readonly]
agentPolicies:
  - agentId: code-reviewer
    allowedRoles: [developer, admin, readonly]
    requireDeviceTrust: verified
  - agentId: code-modifier
    allowedRoles: [developer, admin]
  - agentId: open
skillPolicies:
  - skillId: shell-exec
    dangerous: true
    requiredPermissions: [skill:execute, config:write]
    allowedRoles: [developer, admin]
  - skillId: file-write
    allowedRoles: [developer]
  - skillId: nobody
    allowedRoles: []
`
		team = "organizationPolicy:\n  deniedSkills: [dangerous-exec]\n  requiredSkills: [security-scanner]\n"
	)
	type check func(p *security.Policy, s security.Subject) security.Decision
	perm := func(x security.Permission) check {
		return func(p *security.Policy, s security.Subject) security.Decision { return p.CheckPermission(s, x) }
	}
	agent := func(id string) check {
		return func(p *security.Policy, s security.Subject) security.Decision { return p.CheckAgentAccess(s, id) }
	}
	skill := func(id string) check {
		return func(p *security.Policy, s security.Subject) security.Decision { return p.CheckSkillAccess(s, id) }
	}
	tests := []struct {
		name             string
		node, repo, team string
		subject          security.Subject
		check            check
		rule             string // "" means allowed
		reason           string // checked when set
	}{
		{name: "node alone allows ci", node: nodeRoles, subject: subject(security.Untrusted, "ci"),
			check: perm(security.TaskSubmit)},
		{name: "repo allowedRoles removes ci", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "ci"),
			check: perm(security.TaskSubmit), rule: "repo .coderClaw/security.yaml: allowedRoles",
			reason: "role ci would grant task:submit but is not one of the allowed roles developer, admin, readonly"},
		{name: "repo allowedRoles admits an heir of developer", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "team-developer"),
			check: perm(security.TaskCancel)},
		{name: "node allowedRoles removes readonly before the repo admits it", node: nodeRoles + "allowedRoles: [developer]\n", repo: repo,
			subject: subject(security.Trusted, "readonly"), check: perm(security.TaskRead), rule: "node security.yaml: allowedRoles"},
		{name: "node allowedRoles [] admits no one", node: "allowedRoles: []\n",
			subject: subject(security.Trusted, "admin"), check: perm(security.TaskRead), rule: "node security.yaml: allowedRoles",
			reason: "role admin would grant task:read but is not one of the allowed roles (none)"},
		{name: "node trust enforced", node: "enforceTrust: true\n", subject: subject(security.Untrusted, "admin"),
			check: perm(security.TaskRead), rule: "node security.yaml: enforceTrust", reason: "this device is untrusted; at least verified is required"},
		{name: "node trust met", node: "enforceTrust: true\n", subject: subject(security.Verified, "admin"),
			check: perm(security.TaskRead)},
		{name: "node minimum without enforceTrust is not enforced", node: "minimumTrustLevel: trusted\n", subject: subject(security.Untrusted, "admin"),
			check: perm(security.TaskRead)},
		{name: "deviceTrust.minimumLevel raises the node minimum", node: "enforceTrust: true\nminimumTrustLevel: verified\ndeviceTrust:\n  minimumLevel: trusted\n",
			subject: subject(security.Verified, "admin"), check: perm(security.TaskRead), rule: "node security.yaml: deviceTrust.minimumLevel"},
		{name: "local subject auto-trusted", node: "enforceTrust: true\nminimumTrustLevel: trusted\n",
			subject: security.Subject{Roles: []string{"developer"}, Local: true}, check: perm(security.TaskRead)},
		{name: "autoTrustLocal off", node: "enforceTrust: true\ndeviceTrust:\n  autoTrustLocal: false\n",
			subject: security.Subject{Roles: []string{"developer"}, Local: true}, check: perm(security.TaskRead), rule: "node security.yaml: enforceTrust"},
		{name: "repo trust enforced on a node that does not", node: nodeRoles, repo: repo + "enforceTrust: true\nminimumTrustLevel: trusted\n",
			subject: subject(security.Verified, "developer"), check: perm(security.TaskRead), rule: "repo .coderClaw/security.yaml: minimumTrustLevel"},
		{name: "org trust enforced", team: "organizationPolicy:\n  enforceTrust: true\n  minimumTrustLevel: trusted\n",
			subject: subject(security.Verified, "admin"), check: agent("any"), rule: "org team-policy.yaml: organizationPolicy.minimumTrustLevel"},
		{name: "agent without a policy", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "developer"), check: agent("code-creator")},
		{name: "agent needs agent:invoke", node: nodeRoles, repo: repo, subject: subject(security.Trusted, "readonly"),
			check: agent("code-reviewer"), rule: "permission agent:invoke", reason: "permission agent:invoke is not granted; the user has the role readonly"},
		{name: "agent allowedRoles", node: nodeRoles, repo: repo, subject: subject(security.Trusted, "readonly", "team-developer"), check: agent("code-reviewer")},
		{name: "agent allowedRoles refuse", node: nodeRoles, repo: "agentPolicies:\n  - agentId: code-modifier\n    allowedRoles: [developer, admin]\n",
			subject: subject(security.Trusted, "ci", "ghost"), check: agent("code-modifier"),
			rule:   "repo .coderClaw/security.yaml: agentPolicies[code-modifier].allowedRoles",
			reason: "agent code-modifier requires one of the roles developer, admin; the user has the roles ci, ghost (not defined here: ghost)"},
		{name: "agent requireDeviceTrust applies without enforceTrust", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "developer"),
			check: agent("code-reviewer"), rule: "repo .coderClaw/security.yaml: agentPolicies[code-reviewer].requireDeviceTrust",
			reason: "agent code-reviewer requires a verified device; this one is untrusted"},
		{name: "agent policy without restrictions", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "developer"), check: agent("open")},
		{name: "skill needs skill:execute", node: nodeRoles, subject: subject(security.Trusted, "auditor"), check: skill("lint"),
			rule: "permission skill:execute"},
		{name: "skill requiredPermissions", node: nodeRoles, repo: repo, subject: subject(security.Trusted, "developer"), check: skill("shell-exec"),
			rule:   "repo .coderClaw/security.yaml: skillPolicies[shell-exec].requiredPermissions",
			reason: "skill shell-exec requires permission config:write; the user has the role developer"},
		{name: "skill allowedRoles refuse admin when not listed", node: nodeRoles, repo: repo, subject: subject(security.Trusted, "admin"), check: skill("file-write"),
			rule: "repo .coderClaw/security.yaml: skillPolicies[file-write].allowedRoles"},
		{name: "skill allowedRoles [] refuse all", node: nodeRoles, repo: repo, subject: subject(security.Trusted, "admin"), check: skill("nobody"),
			rule: "repo .coderClaw/security.yaml: skillPolicies[nobody].allowedRoles"},
		{name: "dangerous skill refuses an untrusted device", node: nodeRoles, repo: repo, subject: subject(security.Untrusted, "admin"), check: skill("shell-exec"),
			rule:   "repo .coderClaw/security.yaml: skillPolicies[shell-exec].dangerous",
			reason: "skill shell-exec is dangerous and requires a verified or trusted device; this one is untrusted"},
		{name: "dangerous skill on a verified device", node: nodeRoles, repo: repo, subject: subject(security.Verified, "admin"), check: skill("shell-exec")},
		{name: "dangerous skill from a local subject", node: nodeRoles, repo: repo, subject: security.Subject{Roles: []string{"admin"}, Local: true}, check: skill("shell-exec")},
		{name: "org denies a skill to admin", node: nodeRoles, repo: repo, team: team, subject: subject(security.Trusted, "admin"), check: skill("dangerous-exec"),
			rule: "org team-policy.yaml: organizationPolicy.deniedSkills", reason: "skill dangerous-exec is denied by the organisation"},
		{name: "org leaves other skills", node: nodeRoles, repo: repo, team: team, subject: subject(security.Trusted, "admin"), check: skill("security-scanner")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := policy(t, tt.node, tt.repo, tt.team)
			d := tt.check(p, tt.subject)
			if tt.rule == "" {
				if !d.Allowed {
					t.Fatalf("denied: %v", d)
				}
				return
			}
			if d.Allowed || d.Rule != tt.rule {
				t.Fatalf("got %+v, want a denial by %q", d, tt.rule)
			}
			if tt.reason != "" && d.Reason != tt.reason {
				t.Errorf("reason %q\n  want %q", d.Reason, tt.reason)
			}
		})
	}
}

func TestCheckSkillDeclared(t *testing.T) {
	t.Parallel()
	p := security.Default()
	dev := subject(security.Untrusted, "developer")
	tests := []struct {
		skill coderclaw.Skill
		s     security.Subject
		rule  string
	}{
		{coderclaw.Skill{ID: "file-read", RequiredPermission: "task:read"}, dev, ""},
		{coderclaw.Skill{ID: "config-edit", RequiredPermission: "config:write"}, dev, "skill config-edit: requiredPermission"},
		{coderclaw.Skill{ID: "odd", RequiredPermission: "fs:write"}, dev, "skill odd: requiredPermission"},
		{coderclaw.Skill{ID: "shell", Dangerous: true}, dev, "skill shell: dangerous"},
		{coderclaw.Skill{ID: "shell", Dangerous: true}, subject(security.Verified, "developer"), ""},
		{coderclaw.Skill{ID: "shell"}, subject(security.Trusted, "readonly"), "permission skill:execute"},
	}
	for _, tt := range tests {
		d := p.CheckSkill(tt.s, tt.skill)
		if d.Allowed != (tt.rule == "") || d.Rule != tt.rule && tt.rule != "" {
			t.Errorf("%+v for %+v: %+v, want rule %q", tt.skill, tt.s, d, tt.rule)
		}
	}
}

// TestSeedExamples loads the seeds' example files and checks that they
// behave as the seeds describe.
func TestSeedExamples(t *testing.T) {
	t.Parallel()
	load := func(t *testing.T, node, repo, team string) *security.Policy {
		t.Helper()
		paths := security.Paths{Node: filepath.Join("testdata", node)}
		if repo != "" {
			paths.Repo = filepath.Join("testdata", repo)
		}
		if team != "" {
			paths.Team = filepath.Join("testdata", team)
		}
		p, err := security.Load(paths)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("quick start team environment", func(t *testing.T) {
		t.Parallel()
		p := load(t, "quickstart-node.yaml", "quickstart-repo.yaml", "")
		if got := p.Providers(); !reflect.DeepEqual(got, []string{"github", "local"}) {
			t.Errorf("providers %v", got)
		}
		teamDev := subject(security.Verified, "team-developer")
		for _, c := range []struct {
			name string
			d    security.Decision
			rule string
		}{
			{"team-developer submits", p.CheckPermission(teamDev, security.TaskSubmit), ""},
			{"team-developer reads config", p.CheckPermission(teamDev, security.ConfigRead), ""},
			{"team-developer may not write config", p.CheckPermission(teamDev, security.ConfigWrite), "permission config:write"},
			{"team-developer modifies code", p.CheckAgentAccess(teamDev, "code-modifier"), ""},
			{"untrusted device refused by the node", p.CheckAgentAccess(subject(security.Untrusted, "developer"), "code-modifier"), "node security.yaml: minimumTrustLevel"},
			{"local developer auto-trusted", p.CheckAgentAccess(security.Subject{Roles: []string{"developer"}, Local: true}, "code-modifier"), ""},
			{"ci not allowed on the node", p.CheckPermission(subject(security.Trusted, "ci"), security.TaskSubmit), "node security.yaml: allowedRoles"},
			{"readonly not allowed on the node", p.CheckAgentAccess(subject(security.Trusted, "readonly"), "code-reviewer"), "permission agent:invoke"},
			{"shell-exec for a verified developer", p.CheckSkillAccess(subject(security.Verified, "developer"), "shell-exec"), ""},
			{"file-write for admin", p.CheckSkillAccess(subject(security.Verified, "admin"), "file-write"), ""},
		} {
			if c.d.Allowed != (c.rule == "") || c.rule != "" && c.d.Rule != c.rule {
				t.Errorf("%s: %+v, want rule %q", c.name, c.d, c.rule)
			}
		}
		if got := p.RequiredSkills(); got != nil {
			t.Errorf("required skills without a team policy: %v", got)
		}
	})
	t.Run("quick start repo on the default node", func(t *testing.T) {
		t.Parallel()
		p, err := security.Load(security.Paths{Node: filepath.Join(t.TempDir(), "absent.yaml"), Repo: filepath.Join("testdata", "quickstart-repo.yaml")})
		if err != nil {
			t.Fatal(err)
		}
		// readonly is not among the repo's allowed roles, so code-reviewer's
		// listing of it does not let it in.
		d := p.CheckAgentAccess(subject(security.Trusted, "readonly"), "code-reviewer")
		if d.Allowed || d.Rule != "permission agent:invoke" {
			t.Errorf("readonly: %+v", d)
		}
		d = p.CheckPermission(subject(security.Trusted, "readonly"), security.TaskRead)
		if d.Allowed || d.Rule != "repo .coderClaw/security.yaml: allowedRoles" {
			t.Errorf("readonly reads: %+v", d)
		}
		d = p.CheckSkillAccess(subject(security.Untrusted, "developer"), "shell-exec")
		if d.Allowed || d.Rule != "repo .coderClaw/security.yaml: minimumTrustLevel" {
			t.Errorf("untrusted shell-exec: %+v", d)
		}
	})
	t.Run("configuration reference", func(t *testing.T) {
		t.Parallel()
		p := load(t, "reference-node.yaml", "reference-repo.yaml", "")
		if got := p.Providers(); !reflect.DeepEqual(got, []string{"oidc", "github", "google", "local"}) {
			t.Errorf("providers %v", got)
		}
		custom := subject(security.Verified, "custom-role")
		if d := p.CheckPermission(custom, security.ConfigWrite); !d.Allowed {
			t.Errorf("custom-role config:write: %v", d)
		}
		if d := p.CheckAgentAccess(custom, "code-creator"); !d.Allowed {
			t.Errorf("custom-role (a developer) code-creator: %v", d)
		}
		if d := p.CheckSkillAccess(custom, "dangerous-skill"); d.Allowed || d.Rule != "repo .coderClaw/security.yaml: skillPolicies[dangerous-skill].allowedRoles" {
			t.Errorf("custom-role dangerous-skill: %+v", d)
		}
		if d := p.CheckSkillAccess(subject(security.Verified, "admin"), "dangerous-skill"); !d.Allowed {
			t.Errorf("admin dangerous-skill: %v", d)
		}
	})
	t.Run("architecture with team policy", func(t *testing.T) {
		t.Parallel()
		p := load(t, "architecture-node.yaml", "architecture-repo.yaml", "team-policy.yaml")
		if got := p.RequiredSkills(); !reflect.DeepEqual(got, []string{"security-scanner"}) {
			t.Errorf("required skills %v", got)
		}
		if d := p.CheckSkillAccess(subject(security.Trusted, "admin"), "dangerous-exec"); d.Allowed || d.Rule != "org team-policy.yaml: organizationPolicy.deniedSkills" {
			t.Errorf("dangerous-exec: %+v", d)
		}
		if d := p.CheckSkillAccess(subject(security.Trusted, "admin"), "shell-exec"); d.Allowed || d.Rule != "repo .coderClaw/security.yaml: skillPolicies[shell-exec].allowedRoles" {
			t.Errorf("admin shell-exec, listed for developer only: %+v", d)
		}
		if d := p.CheckSkillAccess(subject(security.Verified, "custom-developer"), "shell-exec"); !d.Allowed {
			t.Errorf("custom-developer shell-exec: %v", d)
		}
		if d := p.CheckPermission(subject(security.Untrusted, "custom-developer"), security.TaskRead); d.Allowed || d.Rule != "repo .coderClaw/security.yaml: minimumTrustLevel" {
			t.Errorf("untrusted: %+v", d)
		}
	})
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := security.Load(security.Paths{Node: filepath.Join(dir, "none.yaml"), Repo: filepath.Join(dir, "none2.yaml")})
	if err != nil || !p.CheckPermission(subject(security.Untrusted, "developer"), security.TaskSubmit).Allowed {
		t.Fatalf("missing files: %v", err)
	}
	bad := filepath.Join(dir, "security.yaml")
	if err := os.WriteFile(bad, []byte("roles:\n  a: {inherits: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = security.Load(security.Paths{Node: bad})
	if got := errorLines(t, err); len(got) != 1 || got[0] != bad+":2: roles.a: inheritance cycle a -> a" {
		t.Errorf("got %q", got)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, config.MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := security.Load(security.Paths{Team: big}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	if _, err := security.Load(security.Paths{Node: dir}); err == nil {
		t.Error("a directory loaded")
	}
}

func TestPolicyIsImmutable(t *testing.T) {
	t.Parallel()
	base := policy(t, "roles:\n  x:\n    inherits: [ci]\n", "", "")
	narrowed, err := base.WithRepo("r.yaml", []byte("allowedRoles: [admin]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !base.CheckPermission(subject(security.Untrusted, "x"), security.TaskRead).Allowed {
		t.Error("WithRepo changed its receiver")
	}
	if narrowed.CheckPermission(subject(security.Untrusted, "x"), security.TaskRead).Allowed {
		t.Error("repo allowedRoles ignored")
	}
	replaced, err := narrowed.WithRepo("r.yaml", nil)
	if err != nil || !replaced.CheckPermission(subject(security.Untrusted, "x"), security.TaskRead).Allowed {
		t.Errorf("WithRepo does not replace the repo level: %v", err)
	}
	roles := base.Roles()
	roles[4].Permissions[0] = security.AdminAll
	roles[4].Inherits[0] = "admin"
	if again := base.Roles(); again[4].Permissions[0] != security.TaskSubmit || again[4].Inherits[0] != "ci" {
		t.Errorf("Roles shares its slices: %+v", again[4])
	}
}

func TestDecision(t *testing.T) {
	t.Parallel()
	d := security.Decision{Reason: "agent x requires one of the roles admin", Rule: "repo .coderClaw/security.yaml: agentPolicies[x].allowedRoles"}
	err := d.Err()
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeForbidden ||
		ce.Message != "agent x requires one of the roles admin (repo .coderClaw/security.yaml: agentPolicies[x].allowedRoles)" {
		t.Errorf("Err() = %#v", err)
	}
	ok := security.Decision{Allowed: true, Rule: "built-in role admin"}
	if ok.Err() != nil || ok.String() != "allowed by built-in role admin" {
		t.Errorf("allowed: %v %q", ok.Err(), ok.String())
	}
}

func TestTrustLevel(t *testing.T) {
	t.Parallel()
	if !(security.Untrusted < security.Verified && security.Verified < security.Trusted) {
		t.Fatal("levels out of order")
	}
	var zero security.TrustLevel
	if zero != security.Untrusted {
		t.Error("zero value is not untrusted")
	}
	for _, l := range []security.TrustLevel{security.Untrusted, security.Verified, security.Trusted} {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back security.TrustLevel
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%v round trip: %v %v", l, back, err)
		}
	}
	if _, err := security.TrustLevel(9).MarshalText(); err == nil {
		t.Error("marshalled an invalid level")
	}
	if security.TrustLevel(9).String() != "TrustLevel(9)" {
		t.Error(security.TrustLevel(9).String())
	}
	// An out-of-range level is treated as untrusted, never as more.
	p := policy(t, "enforceTrust: true\n", "", "")
	if d := p.CheckPermission(subject(security.TrustLevel(9), "admin"), security.TaskRead); d.Allowed {
		t.Errorf("invalid level passed: %v", d)
	}
}
