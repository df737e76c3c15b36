// Command security-rbac walks through CoderClaw's security model in one
// process: a user with a role, a device and its trust level, a session
// binding them, permission checks, agent and skill access under node and
// repository policies, and the hash-chained audit log that records every
// decision.
//
//	go run ./examples/security-rbac
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// The node's security.yaml: a custom role that inherits developer.
const nodePolicy = `
roles:
  team-developer:
    inherits: developer
    additionalPermissions: [config:read]
deviceTrust:
  minimumLevel: verified
  autoTrustLocal: true
`

// A repository's .coderClaw/security.yaml: who may use which agent and skill.
const repoPolicy = `
agentPolicies:
  - agentId: code-reviewer
    allowedRoles: [developer, admin, readonly]
    requireDeviceTrust: verified
  - agentId: code-modifier
    allowedRoles: [admin]
skillPolicies:
  - skillId: shell-exec
    dangerous: true
    requiredPermissions: [skill:execute]
    allowedRoles: [developer, admin]
`

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "coderclaw-rbac-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "coderclaw.db")})
	if err != nil {
		return err
	}
	defer st.Close()

	// Policies: node, then the repository's on top (the most restrictive wins).
	node, err := security.ParseNode("security.yaml", []byte(nodePolicy))
	if err != nil {
		return err
	}
	pol, err := node.WithRepo(".coderClaw/security.yaml", []byte(repoPolicy))
	if err != nil {
		return err
	}
	roles := map[string]bool{}
	for _, r := range pol.Roles() {
		roles[r.Name] = true
	}

	// Identity: a user, a device, a session (user + device + roles).
	ids, err := identity.New(identity.Config{Store: st.Identities(), ValidRole: func(r string) bool { return roles[r] }})
	if err != nil {
		return err
	}
	user, err := ids.AddUser(ctx, "dana", []string{"team-developer"})
	if err != nil {
		return err
	}
	dev, err := ids.RegisterDevice(ctx, "dana", "dana-laptop", false)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "user %s with roles %v; device %s is %s\n", user.Name, user.Roles, dev.Name, dev.Trust)
	secret, sess, err := ids.CreateSession(ctx, "dana", dev.ID, nil)
	if err != nil {
		return err
	}
	p, err := ids.Authenticate(ctx, access.Credentials{Token: secret})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "session %s authenticates as %s with roles %v\n", sess.ID[:8], p.UserID[:8], p.Roles)

	// Audit every decision in the hash-chained log.
	al, err := audit.New(audit.Config{Store: st.AuditLog()})
	if err != nil {
		return err
	}
	if err := al.Start(ctx); err != nil {
		return err
	}
	check := func(d security.Decision, action, resource string) error {
		fmt.Fprintf(w, "%-34s %s\n", action+" "+resource+":", d)
		var derr error
		if !d.Allowed {
			derr = d.Err()
		}
		return al.Record(ctx, audit.Decision(p, action, "policy", resource, derr))
	}

	trust := func(ctx context.Context, p coderclaw.Principal) (security.TrustLevel, error) {
		d, err := ids.Device(ctx, p.DeviceID)
		if err != nil {
			return security.Untrusted, err
		}
		return security.ParseTrustLevel(string(d.Trust))
	}
	az := security.NewAuthorizer(pol, trust)
	for _, step := range []struct{ trust identity.Trust }{{identity.Trust("untrusted")}, {identity.Trust("verified")}} {
		if _, err := ids.SetDeviceTrust(ctx, dev.ID, step.trust); err != nil {
			return err
		}
		sub, err := az.Subject(ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "-- device %s\n", step.trust)
		for _, c := range []struct {
			d              security.Decision
			action, target string
		}{
			{pol.CheckPermission(sub, security.TaskSubmit), "permission", "task:submit"},
			{pol.CheckPermission(sub, security.ConfigWrite), "permission", "config:write"},
			{pol.CheckAgentAccess(sub, "code-reviewer"), "agent", "code-reviewer"},
			{pol.CheckAgentAccess(sub, "code-modifier"), "agent", "code-modifier"},
			{pol.CheckSkillAccess(sub, "shell-exec"), "skill", "shell-exec"},
		} {
			if err := check(c.d, c.action, c.target); err != nil {
				return err
			}
		}
	}
	if err := al.Stop(ctx); err != nil {
		return err
	}

	rep, err := audit.Verify(ctx, st.AuditLog())
	if err != nil {
		return err
	}
	page, err := st.AuditLog().Query(ctx, audit.Query{UserID: p.UserID, Result: audit.ResultDenied})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "audit: %d records, chain intact=%v, %d denials for %s\n", rep.Records, rep.OK(), len(page.Records), user.Name)
	return nil
}
