package security

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/config"
)

// The names rules carry for each level, whatever path a file was read
// from: short, stable and safe to show a user.
const (
	nodePolicyRule = "node security.yaml"
	repoPolicyRule = "repo .coderClaw/security.yaml"
	orgPolicyRule  = "org team-policy.yaml"
)

// DangerousSkillTrust is the device trust a dangerous skill needs, whether
// or not any level enforces trust.
const DangerousSkillTrust = Verified

// Subject is who a check is about.
type Subject struct {
	UserID string
	// Roles are the subject's role names; names no policy defines grant
	// nothing.
	Roles []string
	// Trust is the trust level of the subject's device.
	Trust TrustLevel
	// Local is true for a request from this machine, which
	// deviceTrust.autoTrustLocal raises to Trusted.
	Local bool
}

// Decision is the outcome of a check. A denial's Reason says why, safe to
// show the user, and its Rule names the setting that denied it, such as
// "repo .coderClaw/security.yaml: agentPolicies[code-reviewer].allowedRoles".
// An allowed decision has no Reason; its Rule names the role that granted
// the permission checked.
type Decision struct {
	Allowed bool
	Reason  string
	Rule    string
}

// String describes the decision in one line.
func (d Decision) String() string {
	if d.Allowed {
		if d.Rule == "" {
			return "allowed"
		}
		return "allowed by " + d.Rule
	}
	if d.Rule == "" {
		return d.Reason
	}
	return d.Reason + " (" + d.Rule + ")"
}

// Err returns nil for an allowed decision and, for a denial, a
// *coderclaw.Error with code forbidden whose message is String().
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &coderclaw.Error{Code: coderclaw.CodeForbidden, Message: d.String()}
}

func deny(rule, format string, args ...any) Decision {
	return Decision{Reason: fmt.Sprintf(format, args...), Rule: rule}
}

// Policy is the compiled security policy of a node, optionally narrowed by
// a repository's and an organisation's policy. See the package
// documentation for the semantics. A Policy is immutable and safe for
// concurrent use; the zero value is not usable (use Default).
type Policy struct {
	roles          *roleTable
	providers      []string
	autoTrustLocal bool

	node levelTrust
	// nodeAllowed is the node's allowedRoles; nil allows every role.
	nodeAllowed     roleSet
	nodeAllowedList []string

	repo *repoLevel
	team *teamLevel

	// Derived from the levels by finish.
	// eff is each role's grant here: zero for a role an allowedRoles list
	// leaves out, whose rule excluded names.
	eff      []permSet
	excluded []string
	// trust holds the enforced trust rules, node first; minTrust is the
	// highest of them.
	trust    []levelTrust
	minTrust TrustLevel
}

// levelTrust is a level's trust requirement.
type levelTrust struct {
	enforced bool
	min      TrustLevel
	rule     string
}

type repoLevel struct {
	trust       levelTrust
	allowed     roleSet // nil allows every role
	allowedList []string
	agents      map[string]*agentRule
	skills      map[string]*skillRule
}

type agentRule struct {
	allowed     roleSet // nil: no restriction
	allowedList []string
	rolesRule   string
	trust       TrustLevel
	trustRule   string
}

type skillRule struct {
	dangerous   bool
	dangerRule  string
	required    permSet
	permRule    string
	allowed     roleSet
	allowedList []string
	rolesRule   string
}

type teamLevel struct {
	trust    levelTrust
	required []string
	denied   map[string]bool
}

// Default returns the policy of a node without a security.yaml: the
// built-in roles, every role allowed, trust not enforced, local requests
// trusted.
func Default() *Policy {
	p, err := ParseNode("", nil)
	if err != nil {
		panic("security: the empty node policy does not compile: " + err.Error())
	}
	return p
}

// ParseNode parses the content of a node's security.yaml into the policy
// it defines on its own. file names the source in errors. An empty
// document means Default(). The error is one *config.Error, or several
// joined, each naming file, line and field.
func ParseNode(file string, data []byte) (*Policy, error) {
	var f nodeFile
	if err := config.DecodeStrict(file, data, &f); err != nil {
		return nil, err
	}
	if f.table == nil {
		// Validate ran without problems, so the roles are sound.
		panic("security: node policy validated without a role table")
	}
	p := &Policy{
		roles:          f.table,
		providers:      slices.Clone(f.Identity.Providers),
		autoTrustLocal: f.DeviceTrust.AutoTrustLocal == nil || *f.DeviceTrust.AutoTrustLocal,
	}
	// The node's minimum is the higher of the two settings naming one;
	// verified when neither does.
	p.node = levelTrust{enforced: f.EnforceTrust, min: Verified, rule: nodePolicyRule + ": enforceTrust"}
	set := false
	for _, m := range []struct{ level, field string }{
		{f.MinimumTrustLevel, "minimumTrustLevel"},
		{f.DeviceTrust.MinimumLevel, "deviceTrust.minimumLevel"},
	} {
		if m.level == "" {
			continue
		}
		if l := mustTrust(m.level); !set || l > p.node.min {
			p.node.min, p.node.rule = l, nodePolicyRule+": "+m.field
		}
		set = true
	}
	if f.AllowedRoles != nil {
		p.nodeAllowed = p.roles.set(f.AllowedRoles)
		p.nodeAllowedList = slices.Clone(f.AllowedRoles)
	}
	p.finish()
	return p, nil
}

// WithRepo returns p narrowed by a repository's .coderClaw/security.yaml,
// replacing any repository policy p had. The file may name only roles p
// defines. file names the source in errors.
func (p *Policy) WithRepo(file string, data []byte) (*Policy, error) {
	f := repoFile{roles: p.roles}
	if err := config.DecodeStrict(file, data, &f); err != nil {
		return nil, err
	}
	r := &repoLevel{
		trust:  levelTrust{enforced: f.EnforceTrust, min: Verified, rule: repoPolicyRule + ": enforceTrust"},
		agents: make(map[string]*agentRule, len(f.AgentPolicies)),
		skills: make(map[string]*skillRule, len(f.SkillPolicies)),
	}
	if f.MinimumTrustLevel != "" {
		r.trust.min = mustTrust(f.MinimumTrustLevel)
		r.trust.rule = repoPolicyRule + ": minimumTrustLevel"
	}
	if f.AllowedRoles != nil {
		r.allowed = p.roles.set(f.AllowedRoles)
		r.allowedList = slices.Clone(f.AllowedRoles)
	}
	for _, a := range f.AgentPolicies {
		field := repoPolicyRule + ": agentPolicies[" + a.AgentID + "]"
		ar := &agentRule{rolesRule: field + ".allowedRoles", trustRule: field + ".requireDeviceTrust"}
		if a.AllowedRoles != nil {
			ar.allowed = p.roles.set(a.AllowedRoles)
			ar.allowedList = slices.Clone(a.AllowedRoles)
		}
		if a.RequireDeviceTrust != "" {
			ar.trust = mustTrust(a.RequireDeviceTrust)
		}
		r.agents[a.AgentID] = ar
	}
	for _, s := range f.SkillPolicies {
		field := repoPolicyRule + ": skillPolicies[" + s.SkillID + "]"
		sr := &skillRule{
			dangerous: s.Dangerous, dangerRule: field + ".dangerous",
			permRule: field + ".requiredPermissions", rolesRule: field + ".allowedRoles",
		}
		for _, perm := range s.RequiredPermissions {
			sr.required |= perm.bit()
		}
		if s.AllowedRoles != nil {
			sr.allowed = p.roles.set(s.AllowedRoles)
			sr.allowedList = slices.Clone(s.AllowedRoles)
		}
		r.skills[s.SkillID] = sr
	}
	q := p.clone()
	q.repo = r
	q.finish()
	return q, nil
}

// WithTeam returns p narrowed by an organisation's team-policy.yaml,
// replacing any organisation policy p had. file names the source in
// errors.
func (p *Policy) WithTeam(file string, data []byte) (*Policy, error) {
	var f teamFile
	if err := config.DecodeStrict(file, data, &f); err != nil {
		return nil, err
	}
	o := f.OrganizationPolicy
	t := &teamLevel{
		trust:    levelTrust{enforced: o.EnforceTrust, min: Verified, rule: orgPolicyRule + ": organizationPolicy.enforceTrust"},
		required: slices.Clone(o.RequiredSkills),
		denied:   make(map[string]bool, len(o.DeniedSkills)),
	}
	if o.MinimumTrustLevel != "" {
		t.trust.min = mustTrust(o.MinimumTrustLevel)
		t.trust.rule = orgPolicyRule + ": organizationPolicy.minimumTrustLevel"
	}
	for _, s := range o.DeniedSkills {
		t.denied[s] = true
	}
	q := p.clone()
	q.team = t
	q.finish()
	return q, nil
}

// Paths names the policy files Load reads. An empty path, or a path where
// there is no file, means that level has no policy (for the node: the
// Default policy).
type Paths struct {
	// Node is the node's security.yaml, ~/.coderclaw/.coderClaw/security.yaml.
	Node string
	// Repo is a repository's .coderClaw/security.yaml.
	Repo string
	// Team is the organisation's team-policy.yaml.
	Team string
}

// Load reads and compiles the policy files named by paths.
func Load(paths Paths) (*Policy, error) {
	p := Default()
	steps := []struct {
		path  string
		parse func(file string, data []byte) (*Policy, error)
	}{
		{paths.Node, func(file string, data []byte) (*Policy, error) { return ParseNode(file, data) }},
		{paths.Team, func(file string, data []byte) (*Policy, error) { return p.WithTeam(file, data) }},
		{paths.Repo, func(file string, data []byte) (*Policy, error) { return p.WithRepo(file, data) }},
	}
	for _, s := range steps {
		if s.path == "" {
			continue
		}
		data, found, err := readFile(s.path)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		if p, err = s.parse(s.path, data); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func mustTrust(s string) TrustLevel {
	l, err := ParseTrustLevel(s)
	if err != nil {
		panic("security: unvalidated trust level: " + err.Error())
	}
	return l
}

func (p *Policy) clone() *Policy {
	q := *p
	q.eff, q.excluded, q.trust = nil, nil, nil
	return &q
}

// finish derives the per-role grants and the trust rules from the levels.
func (p *Policy) finish() {
	n := len(p.roles.roles)
	p.eff = make([]permSet, n)
	p.excluded = make([]string, n)
	for i, r := range p.roles.roles {
		switch {
		case p.nodeAllowed != nil && !r.ancestors.intersects(p.nodeAllowed):
			p.excluded[i] = nodePolicyRule + ": allowedRoles"
		case p.repo != nil && p.repo.allowed != nil && !r.ancestors.intersects(p.repo.allowed):
			p.excluded[i] = repoPolicyRule + ": allowedRoles"
		default:
			p.eff[i] = r.grant
		}
	}
	p.trust, p.minTrust = nil, Untrusted
	levels := []levelTrust{p.node}
	if p.repo != nil {
		levels = append(levels, p.repo.trust)
	}
	if p.team != nil {
		levels = append(levels, p.team.trust)
	}
	for _, l := range levels {
		if l.enforced && l.min > Untrusted {
			p.trust = append(p.trust, l)
			p.minTrust = max(p.minTrust, l.min)
		}
	}
}

// Roles returns every role the policy defines, the built-in ones first,
// then the custom ones by name.
func (p *Policy) Roles() []Role {
	out := make([]Role, len(p.roles.roles))
	for i, r := range p.roles.roles {
		out[i] = r.Role
		out[i].Inherits = slices.Clone(r.Inherits)
		out[i].Permissions = slices.Clone(r.Permissions)
	}
	return out
}

// Providers returns the identity providers the node's security.yaml
// enables (identity.providers), in file order.
func (p *Policy) Providers() []string { return slices.Clone(p.providers) }

// WithNodeEnforceTrust returns p with the node's trust enforced when on is
// true: runtime.yaml's security.enforceTrust, which turns enforcement on in
// addition to security.yaml (it never turns it off).
func (p *Policy) WithNodeEnforceTrust(on bool) *Policy {
	if !on || p.node.enforced {
		return p
	}
	q := p.clone()
	q.node.enforced = true
	if q.node.rule == nodePolicyRule+": enforceTrust" {
		q.node.rule = "runtime.yaml: security.enforceTrust"
	}
	q.finish()
	return q
}

// RepoPolicyFile is where a repository keeps its policy.
const RepoPolicyFile = ".coderClaw/security.yaml"

// ForRepo returns the policy for work in the repository at dir: p narrowed
// by dir's .coderClaw/security.yaml when there is one, else p itself. A
// broken repo policy refuses the work (invalid, naming file and line)
// rather than running it unchecked.
func (p *Policy) ForRepo(dir string) (*Policy, error) {
	if dir == "" {
		return p, nil
	}
	file := filepath.Join(dir, RepoPolicyFile)
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, nil
	case err != nil:
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "repo policy %s: %v", file, err)
	}
	rp, err := p.WithRepo(file, data)
	if err != nil {
		return nil, coderclaw.Errorf(coderclaw.CodeInvalid, "%v", err)
	}
	return rp, nil
}

// AutoTrustLocal reports deviceTrust.autoTrustLocal (default true): devices
// registered from this machine start trusted.
func (p *Policy) AutoTrustLocal() bool { return p.autoTrustLocal }

// RequiredSkills returns the skills the organisation policy requires every
// node to offer (organizationPolicy.requiredSkills), in file order.
func (p *Policy) RequiredSkills() []string {
	if p.team == nil {
		return nil
	}
	return slices.Clone(p.team.required)
}

// TrustOf returns the trust a check gives s: its device's trust level, or
// Trusted for a local subject when deviceTrust.autoTrustLocal is on (the
// default). An undefined level counts as Untrusted.
func (p *Policy) TrustOf(s Subject) TrustLevel {
	if s.Local && p.autoTrustLocal {
		return Trusted
	}
	if !s.Trust.Valid() {
		return Untrusted
	}
	return s.Trust
}

// CheckPermission decides whether s holds perm: the trust every level
// enforces, then a role of s that grants perm and that every allowedRoles
// list admits.
func (p *Policy) CheckPermission(s Subject, perm Permission) Decision {
	bit := perm.bit()
	if bit == 0 {
		return deny("permission "+clipName(string(perm)), "unknown permission %q", clipName(string(perm)))
	}
	if d, ok := p.checkTrust(p.TrustOf(s)); !ok {
		return d
	}
	return p.permission(s, bit, perm)
}

// CheckAgentAccess decides whether s may invoke the agent: the trust every
// level enforces, permission agent:invoke, then the repository's policy
// for the agent, if any: one of its allowedRoles and its
// requireDeviceTrust.
func (p *Policy) CheckAgentAccess(s Subject, agentID string) Decision {
	t := p.TrustOf(s)
	if d, ok := p.checkTrust(t); !ok {
		return d
	}
	d := p.permission(s, AgentInvoke.bit(), AgentInvoke)
	if !d.Allowed || p.repo == nil {
		return d
	}
	a := p.repo.agents[agentID]
	if a == nil {
		return d
	}
	if a.allowed != nil && !p.holdsRoleIn(s, a.allowed) {
		return deny(a.rolesRule, "agent %s requires one of the roles %s; %s", agentID, names(a.allowedList), p.describeRoles(s))
	}
	if t < a.trust {
		return deny(a.trustRule, "agent %s requires a %s device; this one is %s", agentID, a.trust, t)
	}
	return d
}

// CheckSkillAccess decides whether s may execute the skill: not denied by
// the organisation, the trust every level enforces, permission
// skill:execute, then the repository's policy for the skill, if any: its
// requiredPermissions, one of its allowedRoles, and, for a dangerous
// skill, a device of at least DangerousSkillTrust (verified).
func (p *Policy) CheckSkillAccess(s Subject, skillID string) Decision {
	if p.team != nil && p.team.denied[skillID] {
		return deny(orgPolicyRule+": organizationPolicy.deniedSkills", "skill %s is denied by the organisation", skillID)
	}
	t := p.TrustOf(s)
	if d, ok := p.checkTrust(t); !ok {
		return d
	}
	d := p.permission(s, SkillExecute.bit(), SkillExecute)
	if !d.Allowed || p.repo == nil {
		return d
	}
	sk := p.repo.skills[skillID]
	if sk == nil {
		return d
	}
	if missing := sk.required &^ p.granted(s); missing != 0 {
		return deny(sk.permRule, "skill %s requires permission %s; %s", skillID, missing.list()[0], p.describeRoles(s))
	}
	if sk.allowed != nil && !p.holdsRoleIn(s, sk.allowed) {
		return deny(sk.rolesRule, "skill %s requires one of the roles %s; %s", skillID, names(sk.allowedList), p.describeRoles(s))
	}
	if sk.dangerous && t < DangerousSkillTrust {
		return deny(sk.dangerRule, "skill %s is dangerous and requires a %s or trusted device; this one is %s", skillID, DangerousSkillTrust, t)
	}
	return d
}

// CheckSkill is CheckSkillAccess followed by what the skill declares of
// itself: its required permission and whether it is dangerous.
func (p *Policy) CheckSkill(s Subject, skill coderclaw.Skill) Decision {
	d := p.CheckSkillAccess(s, skill.ID)
	if !d.Allowed {
		return d
	}
	if skill.RequiredPermission != "" {
		perm := Permission(skill.RequiredPermission)
		rule := "skill " + skill.ID + ": requiredPermission"
		if !perm.Valid() {
			return deny(rule, "skill %s declares the unknown permission %q", skill.ID, clipName(skill.RequiredPermission))
		}
		if p.granted(s)&perm.bit() == 0 {
			return deny(rule, "skill %s requires permission %s; %s", skill.ID, perm, p.describeRoles(s))
		}
	}
	if t := p.TrustOf(s); skill.Dangerous && t < DangerousSkillTrust {
		return deny("skill "+skill.ID+": dangerous", "skill %s is dangerous and requires a %s or trusted device; this one is %s", skill.ID, DangerousSkillTrust, t)
	}
	return d
}

// checkTrust applies the trust rules of every level to t.
func (p *Policy) checkTrust(t TrustLevel) (Decision, bool) {
	if t >= p.minTrust {
		return Decision{}, true
	}
	for _, l := range p.trust {
		if t < l.min {
			return deny(l.rule, "this device is %s; at least %s is required", t, l.min), false
		}
	}
	return Decision{}, true
}

// permission finds a role of s that grants bit here.
func (p *Policy) permission(s Subject, bit permSet, perm Permission) Decision {
	for _, name := range s.Roles {
		if i, ok := p.roles.index[name]; ok && p.eff[i]&bit != 0 {
			return Decision{Allowed: true, Rule: p.roles.roles[i].rule}
		}
	}
	for _, name := range s.Roles {
		if i, ok := p.roles.index[name]; ok && p.roles.roles[i].grant&bit != 0 {
			list := p.nodeAllowedList
			if p.excluded[i] != nodePolicyRule+": allowedRoles" {
				list = p.repo.allowedList
			}
			return deny(p.excluded[i], "role %s would grant %s but is not one of the allowed roles %s", name, perm, names(list))
		}
	}
	return deny("permission "+string(perm), "permission %s is not granted; %s", perm, p.describeRoles(s))
}

// granted returns what the roles of s grant here.
func (p *Policy) granted(s Subject) permSet {
	var g permSet
	for _, name := range s.Roles {
		if i, ok := p.roles.index[name]; ok {
			g |= p.eff[i]
		}
	}
	return g
}

// holdsRoleIn reports whether s has a role admitted here that is, or
// inherits, a role of set.
func (p *Policy) holdsRoleIn(s Subject, set roleSet) bool {
	for _, name := range s.Roles {
		if i, ok := p.roles.index[name]; ok && p.excluded[i] == "" && p.roles.roles[i].ancestors.intersects(set) {
			return true
		}
	}
	return false
}

// describeRoles words the roles of s for a denial.
func (p *Policy) describeRoles(s Subject) string {
	if len(s.Roles) == 0 {
		return "the user has no roles"
	}
	var unknown []string
	for _, name := range s.Roles {
		if _, ok := p.roles.index[name]; !ok {
			unknown = append(unknown, clipName(name))
		}
	}
	text := "the user has the role"
	if len(s.Roles) > 1 {
		text += "s"
	}
	text += " " + names(clipAll(s.Roles))
	if len(unknown) > 0 {
		text += " (not defined here: " + names(unknown) + ")"
	}
	return text
}

func clipAll(list []string) []string {
	const limit = 10
	out := make([]string, 0, min(len(list), limit+1))
	for i, s := range list {
		if i == limit {
			out = append(out, fmt.Sprintf("… (%d more)", len(list)-limit))
			break
		}
		out = append(out, clipName(s))
	}
	return out
}

func names(list []string) string {
	if len(list) == 0 {
		return "(none)"
	}
	return strings.Join(list, ", ")
}
