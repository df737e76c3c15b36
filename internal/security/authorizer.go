package security

import (
	"context"
	"fmt"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
)

// Authorizer enforces a Policy on every runtime call: it is the
// access.Authorizer that access.Guard consults. Each operation maps to
// checks:
//
//	submit                          task:submit, then CheckAgentAccess for the request's agent
//	task, tasks, events, stream     task:read
//	cancel                          task:cancel
//	respond                         task:submit (answering a task is submitting input to it)
//	agents, skills                  task:read (whoever may follow tasks may see what can run them)
//	status                          config:read
//
// An operation it does not know is refused. A refusal is a
// *coderclaw.Error with code forbidden whose message is the decision's
// reason and rule.
type Authorizer struct {
	policy *Policy
	trust  TrustFunc
}

// TrustFunc returns the trust level of the device a principal's request
// comes from (coderclaw.Principal carries a DeviceID but no level), such
// as the level the identity service recorded for p.DeviceID. An error
// fails the call.
type TrustFunc func(ctx context.Context, p coderclaw.Principal) (TrustLevel, error)

var _ access.Authorizer = (*Authorizer)(nil)

// MethodLocal is the Principal.Method of a request the node's local
// authenticator accepted from this machine (see access.Local); such a
// principal is a Local subject.
const MethodLocal = "local"

// NewAuthorizer returns an Authorizer enforcing p. trust gives the trust
// level of a principal's device; nil means every device is Untrusted.
// Local principals (Method MethodLocal) are raised to Trusted while the
// policy's deviceTrust.autoTrustLocal is on.
func NewAuthorizer(p *Policy, trust TrustFunc) *Authorizer {
	return &Authorizer{policy: p, trust: trust}
}

// Subject returns the subject of checks for a principal.
func (a *Authorizer) Subject(ctx context.Context, p coderclaw.Principal) (Subject, error) {
	s := Subject{UserID: p.UserID, Roles: p.Roles, Local: p.Method == MethodLocal}
	if a.trust != nil {
		t, err := a.trust(ctx, p)
		if err != nil {
			return Subject{}, fmt.Errorf("device trust of %s: %w", p.UserID, err)
		}
		s.Trust = t
	}
	return s, nil
}

// Authorize implements access.Authorizer. An error of the TrustFunc is
// returned wrapped, so that transports report it as internal.
func (a *Authorizer) Authorize(ctx context.Context, p coderclaw.Principal, op access.Operation) error {
	s, err := a.Subject(ctx, p)
	if err != nil {
		return err
	}
	switch op.Name {
	case "submit":
		if d := a.policy.CheckPermission(s, TaskSubmit); !d.Allowed {
			return d.Err()
		}
		var agentID, repo string
		if op.Submit != nil {
			agentID, repo = op.Submit.AgentID, op.Submit.Repo
		}
		pol, err := a.policy.ForRepo(repo)
		if err != nil {
			return err
		}
		return pol.CheckAgentAccess(s, agentID).Err()
	case "task", "tasks", "events", "stream", "agents", "skills":
		return a.policy.CheckPermission(s, TaskRead).Err()
	case "cancel":
		return a.policy.CheckPermission(s, TaskCancel).Err()
	case "respond":
		return a.policy.CheckPermission(s, TaskSubmit).Err()
	case "status":
		return a.policy.CheckPermission(s, ConfigRead).Err()
	}
	return coderclaw.Errorf(coderclaw.CodeForbidden, "operation %q is not covered by the security policy", clipName(op.Name))
}
