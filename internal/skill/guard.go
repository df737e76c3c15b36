package skill

import (
	"context"
	"fmt"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/security"
)

// AuditAction is the action of the audit records of skill decisions.
const AuditAction = "skill.execute"

// Auditor records audit entries; *audit.Logger is one.
type Auditor interface {
	Post(ctx context.Context, e audit.Entry) error
}

var _ Auditor = (*audit.Logger)(nil)

// Guard is the policy gate of one task's skill calls: who the calls are
// made for, the policy that decides, and the audit log that records every
// decision. Build one per task execution as a struct literal; a Guard is
// not changed by Check and is safe for concurrent use when its Auditor is.
type Guard struct {
	// Policy decides; nil means security.Default(), the policy of a node
	// without a security.yaml.
	Policy *security.Policy
	// Subject is who the task runs for: the submitter's roles and device
	// trust.
	Subject security.Subject
	// Audit records every decision; nil records nothing (a node without
	// an audit log).
	Audit Auditor
	// TaskID and AgentID are named in the reason of every record.
	TaskID, AgentID string
	// UserID, SessionID and DeviceID identify the records; an empty
	// UserID means Subject.UserID. SessionID must not be a credential.
	UserID, SessionID, DeviceID string
}

// DeniedError is a skill call the policy refused. Its text is fit to show
// the model, which should not retry the call.
type DeniedError struct {
	// Skill is the id of the skill refused.
	Skill string
	// Rule names the setting that denied it; Reason says why.
	Rule, Reason string
}

func (e *DeniedError) Error() string {
	if e.Rule == "" {
		return "denied by policy: " + e.Reason
	}
	return "denied by policy (" + e.Rule + "): " + e.Reason
}

// Denied reports true: the agent loop tells a policy denial from other
// tool errors by this method.
func (e *DeniedError) Denied() bool { return true }

// Check decides whether the task may call the skill described by info
// (Policy.CheckSkill for Subject) and posts the decision, allowed or
// denied, to Audit as action skill.execute on resource skill/<id>, with a
// reason naming the task and the rule. A denial returns a *DeniedError.
// An allowed call whose record cannot be posted is refused too, with an
// error saying so: what runs must be on record. A nil Guard checks like a
// zero one, which denies every call (its subject has no roles).
func (g *Guard) Check(ctx context.Context, info coderclaw.Skill) error {
	if g == nil {
		g = &Guard{}
	}
	p := g.Policy
	if p == nil {
		p = security.Default()
	}
	d := p.CheckSkill(g.Subject, info)
	e := audit.Entry{
		Action:       AuditAction,
		UserID:       g.UserID,
		SessionID:    g.SessionID,
		DeviceID:     g.DeviceID,
		ResourceType: "skill",
		ResourceID:   info.ID,
		Result:       audit.ResultDenied,
		Reason:       g.reason(d),
	}
	if e.UserID == "" {
		e.UserID = g.Subject.UserID
	}
	if d.Allowed {
		e.Result = audit.ResultAllowed
	}
	var auditErr error
	if g.Audit != nil {
		auditErr = g.Audit.Post(ctx, e)
	}
	if !d.Allowed {
		return &DeniedError{Skill: info.ID, Rule: d.Rule, Reason: d.Reason}
	}
	if auditErr != nil {
		return fmt.Errorf("skill %s not run: its audit record failed: %w", info.ID, auditErr)
	}
	return nil
}

// reason words a decision for the audit log, naming the task and agent.
func (g *Guard) reason(d security.Decision) string {
	var parts []string
	if g.TaskID != "" {
		parts = append(parts, "task "+g.TaskID)
	}
	if g.AgentID != "" {
		parts = append(parts, "agent "+g.AgentID)
	}
	if len(parts) == 0 {
		return d.String()
	}
	return strings.Join(parts, ", ") + ": " + d.String()
}
