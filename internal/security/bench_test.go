package security_test

import (
	"testing"

	"github.com/coderclaw/coderclaw/internal/security"
)

// benchPolicy has a custom role three inheritance levels deep and a repo
// policy narrowing the roles, agents and skills.
func benchPolicy(tb testing.TB) *security.Policy {
	return policy(tb, `
roles:
  reviewer: {inherits: readonly}
  senior: {inherits: [reviewer, ci], additionalPermissions: [task:cancel]}
  lead: {inherits: senior, additionalPermissions: [config:write]}
enforceTrust: true
minimumTrustLevel: verified
`, `
allowedRoles: [developer, senior, admin]
agentPolicies:
  - {agentId: code-modifier, allowedRoles: [developer, reviewer], requireDeviceTrust: verified}
skillPolicies:
  - {skillId: shell-exec, dangerous: true, requiredPermissions: [skill:execute, task:cancel], allowedRoles: [senior]}
`, "organizationPolicy:\n  deniedSkills: [dangerous-exec]\n")
}

func benchSubject() security.Subject {
	return security.Subject{UserID: "u1", Roles: []string{"guest", "lead"}, Trust: security.Verified}
}

// BenchmarkCheckPermission checks a permission the subject's custom role
// inherits three levels down (lead → senior → reviewer → readonly), its
// roles resolved by name on every call.
func BenchmarkCheckPermission(b *testing.B) {
	p, s := benchPolicy(b), benchSubject()
	b.ReportAllocs()
	for b.Loop() {
		if !p.CheckPermission(s, security.TaskRead).Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkCheckAgentAccess(b *testing.B) {
	p, s := benchPolicy(b), benchSubject()
	b.ReportAllocs()
	for b.Loop() {
		if !p.CheckAgentAccess(s, "code-modifier").Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkCheckSkillAccess(b *testing.B) {
	p, s := benchPolicy(b), benchSubject()
	b.ReportAllocs()
	for b.Loop() {
		if !p.CheckSkillAccess(s, "shell-exec").Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkCheckPermissionDenied measures a denial, which words its reason.
func BenchmarkCheckPermissionDenied(b *testing.B) {
	p, s := benchPolicy(b), benchSubject()
	b.ReportAllocs()
	for b.Loop() {
		if p.CheckPermission(s, security.AdminAll).Allowed {
			b.Fatal("allowed")
		}
	}
}

// TestChecksDoNotAllocate holds the allowed paths to zero allocations.
func TestChecksDoNotAllocate(t *testing.T) {
	p, s := benchPolicy(t), benchSubject()
	checks := map[string]func() bool{
		"permission": func() bool { return p.CheckPermission(s, security.TaskRead).Allowed },
		"agent":      func() bool { return p.CheckAgentAccess(s, "code-modifier").Allowed },
		"skill":      func() bool { return p.CheckSkillAccess(s, "shell-exec").Allowed },
	}
	for name, check := range checks {
		if !check() {
			t.Fatalf("%s denied", name)
		}
		if n := testing.AllocsPerRun(100, func() { check() }); n != 0 {
			t.Errorf("%s: %v allocations per check", name, n)
		}
	}
}
