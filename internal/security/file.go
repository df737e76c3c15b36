package security

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/coderclaw/coderclaw/internal/config"
)

// The shapes of the three policy files, decoded by config.DecodeStrict.
// Each Validate checks what DecodeStrict cannot (values, references,
// cycles) and names fields, which DecodeStrict places in the file.

// nodeFile is the node's security.yaml.
type nodeFile struct {
	Identity struct {
		Providers []string `yaml:"providers"`
	} `yaml:"identity"`
	DeviceTrust struct {
		MinimumLevel   string `yaml:"minimumLevel"`
		AutoTrustLocal *bool  `yaml:"autoTrustLocal"`
	} `yaml:"deviceTrust"`
	Roles             map[string]roleSpec `yaml:"roles"`
	EnforceTrust      bool                `yaml:"enforceTrust"`
	MinimumTrustLevel string              `yaml:"minimumTrustLevel"`
	AllowedRoles      []string            `yaml:"allowedRoles"`

	// table is the role table Validate builds when the roles are sound.
	table *roleTable
}

type roleSpec struct {
	Inherits              []string     `yaml:"inherits,single"`
	AdditionalPermissions []Permission `yaml:"additionalPermissions"`
	Description           string       `yaml:"description"`
}

// repoFile is a repository's .coderClaw/security.yaml.
type repoFile struct {
	EnforceTrust      bool          `yaml:"enforceTrust"`
	MinimumTrustLevel string        `yaml:"minimumTrustLevel"`
	AllowedRoles      []string      `yaml:"allowedRoles"`
	AgentPolicies     []agentPolicy `yaml:"agentPolicies"`
	SkillPolicies     []skillPolicy `yaml:"skillPolicies"`

	// roles are the roles the node defines, which the file may name.
	roles *roleTable
}

type agentPolicy struct {
	AgentID            string   `yaml:"agentId"`
	AllowedRoles       []string `yaml:"allowedRoles"`
	RequireDeviceTrust string   `yaml:"requireDeviceTrust"`
}

type skillPolicy struct {
	SkillID             string       `yaml:"skillId"`
	Dangerous           bool         `yaml:"dangerous"`
	RequiredPermissions []Permission `yaml:"requiredPermissions"`
	AllowedRoles        []string     `yaml:"allowedRoles"`
}

// teamFile is the organisation's team-policy.yaml.
type teamFile struct {
	OrganizationPolicy struct {
		EnforceTrust      bool     `yaml:"enforceTrust"`
		MinimumTrustLevel string   `yaml:"minimumTrustLevel"`
		RequiredSkills    []string `yaml:"requiredSkills"`
		DeniedSkills      []string `yaml:"deniedSkills"`
	} `yaml:"organizationPolicy"`
}

// MaxRoles bounds the custom roles of a node's security.yaml.
const MaxRoles = 256

// maxNameLen bounds role names and agent and skill ids.
const maxNameLen = 128

// problems collects validation errors, each naming its field.
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &config.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error { return errors.Join(ps...) }

// trustField checks an optional trust level.
func (ps *problems) trustField(field, s string) {
	if s == "" {
		return
	}
	if _, err := ParseTrustLevel(s); err != nil {
		ps.add(field, "%s", err.Error())
	}
}

// permissionList checks a list of permissions: known and distinct.
func (ps *problems) permissionList(field string, list []Permission) {
	seen := map[Permission]int{}
	for i, p := range list {
		f := field + "[" + strconv.Itoa(i) + "]"
		if !p.Valid() {
			ps.add(f, "unknown permission %q (want one of %s)", clipName(string(p)), permissionNames())
			continue
		}
		if j, dup := seen[p]; dup {
			ps.add(f, "duplicate permission %q (also at index %d)", p, j)
			continue
		}
		seen[p] = i
	}
}

// roleList checks a list of role names: defined and distinct.
func (ps *problems) roleList(field string, list []string, t *roleTable) {
	seen := map[string]int{}
	for i, name := range list {
		f := field + "[" + strconv.Itoa(i) + "]"
		if _, ok := t.index[name]; !ok {
			ps.add(f, "unknown role %q (defined roles: %s)", clipName(name), t.names())
			continue
		}
		if j, dup := seen[name]; dup {
			ps.add(f, "duplicate role %q (also at index %d)", name, j)
			continue
		}
		seen[name] = i
	}
}

// idList checks a list of agent or skill ids: well formed and distinct.
func (ps *problems) idList(field, what string, list []string) map[string]int {
	seen := map[string]int{}
	for i, id := range list {
		f := field + "[" + strconv.Itoa(i) + "]"
		if msg := checkID(id); msg != "" {
			ps.add(f, "%s", msg)
			continue
		}
		if j, dup := seen[id]; dup {
			ps.add(f, "duplicate %s %q (also at index %d)", what, id, j)
			continue
		}
		seen[id] = i
	}
	return seen
}

// checkID returns what is wrong with an agent or skill id, or "".
func checkID(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > maxNameLen:
		return fmt.Sprintf("must be at most %d bytes long", maxNameLen)
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return fmt.Sprintf("must not contain spaces or control characters, got %q", clipName(id))
	}
	return ""
}

// checkRoleName returns what is wrong with a custom role's name, or "".
func checkRoleName(name string) string {
	if name == "" {
		return "a role name must not be empty"
	}
	if len(name) > maxNameLen {
		return fmt.Sprintf("a role name must be at most %d bytes long", maxNameLen)
	}
	for i, c := range []byte(name) {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !letter && (i == 0 || c != '-' && c != '_') {
			return fmt.Sprintf("a role name must be letters, digits, '-' and '_', starting with a letter or digit, got %q", clipName(name))
		}
	}
	return ""
}

// clipName shortens a name for an error message.
func clipName(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit]) + "…"
}

// Validate checks the node file and, when its roles are sound, builds
// their table.
func (f *nodeFile) Validate() error {
	var ps problems
	seen := map[string]int{}
	for i, p := range f.Identity.Providers {
		field := "identity.providers[" + strconv.Itoa(i) + "]"
		switch j, dup := seen[p]; {
		case !slices.Contains(Providers(), p):
			ps.add(field, "unknown identity provider %q (want one of %s)", clipName(p), strings.Join(Providers(), ", "))
		case dup:
			ps.add(field, "duplicate provider %q (also at index %d)", p, j)
		default:
			seen[p] = i
		}
	}
	ps.trustField("deviceTrust.minimumLevel", f.DeviceTrust.MinimumLevel)
	ps.trustField("minimumTrustLevel", f.MinimumTrustLevel)
	t, rolePs := buildRoles(f.Roles)
	ps = append(ps, rolePs...)
	ps.roleList("allowedRoles", f.AllowedRoles, t)
	if len(ps) == 0 {
		f.table = t
	}
	return ps.err()
}

// Validate checks the repo file against the node's roles.
func (f *repoFile) Validate() error {
	var ps problems
	ps.trustField("minimumTrustLevel", f.MinimumTrustLevel)
	ps.roleList("allowedRoles", f.AllowedRoles, f.roles)
	agents := map[string]int{}
	for i, a := range f.AgentPolicies {
		field := "agentPolicies[" + strconv.Itoa(i) + "]"
		if msg := checkID(a.AgentID); msg != "" {
			ps.add(field+".agentId", "%s", msg)
		} else if j, dup := agents[a.AgentID]; dup {
			ps.add(field+".agentId", "duplicate policy for agent %q (also agentPolicies[%d])", a.AgentID, j)
		} else {
			agents[a.AgentID] = i
		}
		ps.roleList(field+".allowedRoles", a.AllowedRoles, f.roles)
		ps.trustField(field+".requireDeviceTrust", a.RequireDeviceTrust)
	}
	skills := map[string]int{}
	for i, s := range f.SkillPolicies {
		field := "skillPolicies[" + strconv.Itoa(i) + "]"
		if msg := checkID(s.SkillID); msg != "" {
			ps.add(field+".skillId", "%s", msg)
		} else if j, dup := skills[s.SkillID]; dup {
			ps.add(field+".skillId", "duplicate policy for skill %q (also skillPolicies[%d])", s.SkillID, j)
		} else {
			skills[s.SkillID] = i
		}
		ps.permissionList(field+".requiredPermissions", s.RequiredPermissions)
		ps.roleList(field+".allowedRoles", s.AllowedRoles, f.roles)
	}
	return ps.err()
}

// Validate checks the team file.
func (f *teamFile) Validate() error {
	var ps problems
	o := &f.OrganizationPolicy
	ps.trustField("organizationPolicy.minimumTrustLevel", o.MinimumTrustLevel)
	required := ps.idList("organizationPolicy.requiredSkills", "skill", o.RequiredSkills)
	denied := map[string]int{}
	for i, id := range o.DeniedSkills {
		field := "organizationPolicy.deniedSkills[" + strconv.Itoa(i) + "]"
		if msg := checkID(id); msg != "" {
			ps.add(field, "%s", msg)
		} else if j, dup := denied[id]; dup {
			ps.add(field, "duplicate skill %q (also at index %d)", id, j)
		} else if j, both := required[id]; both {
			ps.add(field, "skill %q is both denied and required (organizationPolicy.requiredSkills[%d])", id, j)
		} else {
			denied[id] = i
		}
	}
	return ps.err()
}

// Providers returns the identity providers a node's security.yaml may
// name under identity.providers.
func Providers() []string { return []string{"oidc", "github", "google", "local"} }

// readFile reads a policy file of at most config.MaxFileSize bytes; a
// missing file yields found == false and no error.
func readFile(path string) (data []byte, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load security policy: %w", err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
	if err != nil {
		return nil, true, fmt.Errorf("load security policy: read %s: %w", path, err)
	}
	if len(data) > config.MaxFileSize {
		return nil, true, &config.Error{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", config.MaxFileSize)}
	}
	return data, true, nil
}
