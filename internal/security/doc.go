// Package security holds CoderClaw's authorization model: permissions,
// roles, device trust levels and the policies of the node, of a
// repository and of the organisation, compiled into a Policy that answers
// checks with a Decision. It reads the policy files and nothing else: no
// identities, sessions, devices or audit log live here.
//
// # Permissions, roles and trust
//
// Permissions are the closed set task:submit, task:read, task:cancel,
// agent:invoke, skill:execute, config:read, config:write and admin:all,
// which implies every other one. The built-in roles are
//
//	admin      admin:all
//	developer  task:submit task:read task:cancel agent:invoke skill:execute config:read
//	readonly   task:read config:read
//	ci         task:submit task:read agent:invoke skill:execute
//
// and a node's security.yaml adds custom roles that inherit any others
// (one name or a list, to any depth) and add permissions. Device trust
// levels are ordered untrusted < verified < trusted.
//
// # Files
//
// Three YAML files, each optional, parsed strictly by config.DecodeStrict:
// an unknown key, a wrong type, a bad value, an unknown permission, a
// reference to an undefined role and an inheritance cycle are errors of
// type *config.Error naming file, line and field, for instance
//
//	security.yaml:9: roles.lead: inheritance cycle lead -> senior -> lead
//	security.yaml:12: roles.senior.additionalPermissions[1]: unknown permission "config:delete" (want one of task:submit, ...)
//	.coderClaw/security.yaml:8: agentPolicies[0].allowedRoles[1]: unknown role "tester" (defined roles: admin, developer, readonly, ci)
//
// The node's ~/.coderclaw/.coderClaw/security.yaml (ParseNode):
//
//	identity: {providers: [oidc, github, google, local]}
//	deviceTrust: {minimumLevel: verified, autoTrustLocal: true}
//	roles:
//	  team-developer: {inherits: developer, additionalPermissions: [config:write], description: "..."}
//	enforceTrust: true
//	minimumTrustLevel: verified
//	allowedRoles: [developer, team-developer, admin]
//
// A repository's .coderClaw/security.yaml (Policy.WithRepo), which may name
// only roles the node defines:
//
//	enforceTrust: true
//	minimumTrustLevel: verified
//	allowedRoles: [developer, admin]
//	agentPolicies:
//	  - {agentId: code-reviewer, allowedRoles: [developer, admin, readonly], requireDeviceTrust: verified}
//	skillPolicies:
//	  - {skillId: shell-exec, dangerous: true, requiredPermissions: [skill:execute], allowedRoles: [developer, admin]}
//
// The organisation's team-policy.yaml (Policy.WithTeam):
//
//	organizationPolicy:
//	  enforceTrust: true
//	  minimumTrustLevel: verified
//	  requiredSkills: [security-scanner]
//	  deniedSkills: [dangerous-exec]
//
// # Decisions
//
// Every level narrows, none widens: a check passes only if the node, the
// repository and the organisation all allow it, so the most restrictive
// applies. In the order a check applies them:
//
//   - deniedSkills of the organisation refuse those skills to everyone.
//   - Trust: a level with enforceTrust: true requires the subject's device
//     trust to reach its minimumTrustLevel (verified if unset; at the
//     node, the higher of minimumTrustLevel and deviceTrust.minimumLevel).
//     A minimum without enforceTrust: true is not enforced. A Local subject
//     counts as trusted while deviceTrust.autoTrustLocal is on (default).
//     Trust rules apply to every check.
//   - Roles: a subject's permissions are the union of what its roles grant.
//     An allowedRoles list (node, repository) admits the roles it names
//     and the roles inheriting them; a role it does not admit grants
//     nothing. An absent list admits every role; an empty list ([])
//     admits none. Role names no policy defines grant nothing.
//   - Agents: CheckAgentAccess needs agent:invoke, then the repository's
//     policy for that agent: a subject role among (or inheriting one of)
//     its allowedRoles, and a device of at least its requireDeviceTrust,
//     which applies whether or not trust is enforced.
//   - Skills: CheckSkillAccess needs skill:execute, then the repository's
//     policy for that skill: all its requiredPermissions, one of its
//     allowedRoles, and for a dangerous skill a verified or trusted device
//     (DangerousSkillTrust; untrusted devices never run dangerous skills,
//     whether or not trust is enforced). CheckSkill also applies what a
//     coderclaw.Skill declares of itself.
//
// A denial's Decision.Rule names the setting that denied it, such as
// "repo .coderClaw/security.yaml: agentPolicies[code-reviewer].allowedRoles"
// or "node security.yaml: minimumTrustLevel"; a missing permission is
// "permission task:cancel". Authorizer applies a Policy to every runtime
// call through access.Guard.
//
// # Concurrency, zero values, cost
//
// The package has no mutable state. A Policy is immutable once returned
// and safe for concurrent use; WithRepo and WithTeam derive new ones. The
// zero Policy is not usable: start from Default, ParseNode or Load. The
// zero Subject has no roles and an untrusted device. Role inheritance is
// resolved when a policy is compiled, so a check is a few map lookups and
// bit operations and does not allocate unless it denies.
package security
