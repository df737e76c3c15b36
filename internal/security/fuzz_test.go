package security_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/security"
)

// The seed corpora are in testdata/fuzz/<Name>: the seeds' example files
// and broken variants of them.

// checkFailure checks that a failed parse returned no policy and only
// *config.Error values naming the file.
func checkFailure(t *testing.T, file string, p *security.Policy, err error) {
	t.Helper()
	if p != nil {
		t.Fatalf("a policy came with the error %v", err)
	}
	all := []error{err}
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		all = m.Unwrap()
	}
	for _, e := range all {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T) is not a *config.Error", e, e)
		}
		if ce.File != file || ce.Line < 0 || ce.Msg == "" {
			t.Fatalf("error %q: File=%q Line=%d Msg=%q", ce, ce.File, ce.Line, ce.Msg)
		}
	}
}

// The agents, skills and trust levels the invariants are checked for: the
// ids the seed corpora use.
func fuzzAgents() []string {
	return []string{"code-modifier", "code-reviewer", "code-creator", "a", ""}
}

func fuzzSkills() []string {
	return []string{"shell-exec", "file-write", "dangerous-skill", "dangerous-exec", "security-scanner", "a", ""}
}

func fuzzTrust() []security.TrustLevel {
	return []security.TrustLevel{security.Untrusted, security.Verified, security.Trusted}
}

// checkNarrows checks that q (p with one more level) allows nothing p
// denies, for every role alone at every trust level.
func checkNarrows(t *testing.T, p, q *security.Policy) {
	t.Helper()
	for _, r := range p.Roles() {
		for _, tr := range fuzzTrust() {
			s := security.Subject{Roles: []string{r.Name}, Trust: tr}
			for _, perm := range security.Permissions() {
				if q.CheckPermission(s, perm).Allowed && !p.CheckPermission(s, perm).Allowed {
					t.Fatalf("%s at %s: the narrower policy allows %s", r.Name, tr, perm)
				}
			}
			for _, a := range fuzzAgents() {
				if q.CheckAgentAccess(s, a).Allowed && !p.CheckAgentAccess(s, a).Allowed {
					t.Fatalf("%s at %s: the narrower policy allows agent %q", r.Name, tr, a)
				}
			}
			for _, sk := range fuzzSkills() {
				if q.CheckSkillAccess(s, sk).Allowed && !p.CheckSkillAccess(s, sk).Allowed {
					t.Fatalf("%s at %s: the narrower policy allows skill %q", r.Name, tr, sk)
				}
			}
		}
	}
}

// checkSound checks a policy's invariants: roles are well formed and
// acyclic, and every allowed decision rests on a permission a role grants.
func checkSound(t *testing.T, p *security.Policy) {
	t.Helper()
	roles := p.Roles()
	byName := map[string]security.Role{}
	for _, r := range roles {
		if _, dup := byName[r.Name]; dup {
			t.Fatalf("role %s twice", r.Name)
		}
		byName[r.Name] = r
		for _, perm := range r.Permissions {
			if !perm.Valid() {
				t.Fatalf("role %s grants %q", r.Name, perm)
			}
		}
	}
	for _, want := range []string{"admin", "developer", "readonly", "ci"} {
		if r, ok := byName[want]; !ok || !r.Builtin {
			t.Fatalf("built-in role %s missing", want)
		}
	}
	var ancestors func(name string, path []string)
	ancestors = func(name string, path []string) {
		if slices.Contains(path, name) {
			t.Fatalf("inheritance cycle %v -> %s compiled", path, name)
		}
		r, ok := byName[name]
		if !ok {
			t.Fatalf("role %s inherits the undefined %s", path[len(path)-1], name)
		}
		for _, parent := range r.Inherits {
			ancestors(parent, append(path, name))
		}
	}
	grants := func(r security.Role, perm security.Permission) bool {
		return slices.Contains(r.Permissions, perm) || slices.Contains(r.Permissions, security.AdminAll)
	}
	for _, r := range roles {
		ancestors(r.Name, nil)
		for _, parent := range r.Inherits {
			for _, perm := range byName[parent].Permissions {
				if !grants(r, perm) {
					t.Fatalf("role %s inherits %s but not its %s", r.Name, parent, perm)
				}
			}
		}
		for _, tr := range fuzzTrust() {
			s := security.Subject{Roles: []string{r.Name}, Trust: tr}
			for _, perm := range security.Permissions() {
				if d := p.CheckPermission(s, perm); d.Allowed && !grants(r, perm) {
					t.Fatalf("role %s allowed %s it does not grant: %v", r.Name, perm, d)
				} else if !d.Allowed && (d.Reason == "" || d.Rule == "") {
					t.Fatalf("denial without reason or rule: %+v", d)
				}
			}
			for _, a := range fuzzAgents() {
				if p.CheckAgentAccess(s, a).Allowed && !grants(r, security.AgentInvoke) {
					t.Fatalf("role %s invokes agent %q without agent:invoke", r.Name, a)
				}
			}
			for _, sk := range fuzzSkills() {
				if p.CheckSkillAccess(s, sk).Allowed && !grants(r, security.SkillExecute) {
					t.Fatalf("role %s executes skill %q without skill:execute", r.Name, sk)
				}
			}
		}
	}
}

func FuzzNodePolicy(f *testing.F) {
	f.Add([]byte("roles:\n  a:\n    inherits: developer\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "security.yaml"
		p, err := security.ParseNode(file, data)
		if err != nil {
			checkFailure(t, file, p, err)
			return
		}
		checkSound(t, p)
	})
}

func FuzzRepoPolicy(f *testing.F) {
	node, err := security.ParseNode("security.yaml", []byte(`roles:
  team-developer: {inherits: developer, additionalPermissions: [config:read]}
  custom-role: {inherits: [team-developer, readonly]}
  bot: {inherits: ci}
`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("allowedRoles: [developer]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = ".coderClaw/security.yaml"
		p, err := node.WithRepo(file, data)
		if err != nil {
			checkFailure(t, file, p, err)
			return
		}
		checkSound(t, p)
		checkNarrows(t, node, p)
	})
}

func FuzzTeamPolicy(f *testing.F) {
	f.Add([]byte("organizationPolicy:\n  deniedSkills: [x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "team-policy.yaml"
		base := security.Default()
		p, err := base.WithTeam(file, data)
		if err != nil {
			checkFailure(t, file, p, err)
			return
		}
		checkSound(t, p)
		checkNarrows(t, base, p)
		required := p.RequiredSkills()
		for i, s := range required {
			if s == "" || slices.Contains(required[:i], s) {
				t.Fatalf("required skills %q", required)
			}
			d := p.CheckSkillAccess(security.Subject{Roles: []string{"admin"}, Local: true}, s)
			if !d.Allowed && d.Rule == "org team-policy.yaml: organizationPolicy.deniedSkills" {
				t.Fatalf("required skill %q is denied", s)
			}
		}
	})
}
