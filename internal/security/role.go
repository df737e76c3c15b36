package security

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The built-in role names.
const (
	RoleAdmin     = "admin"
	RoleDeveloper = "developer"
	RoleReadonly  = "readonly"
	RoleCI        = "ci"
)

// Role is a role as a policy resolved it.
type Role struct {
	Name        string
	Description string
	// Builtin is true for admin, developer, readonly and ci.
	Builtin bool
	// Inherits names the roles this one inherits directly.
	Inherits []string
	// Permissions are what the role grants, inherited ones included, in
	// the order of Permissions. A role granting AdminAll grants every
	// permission whether or not they are listed.
	Permissions []Permission
}

// builtinRoles returns the built-in roles, admin first.
func builtinRoles() []Role {
	return []Role{
		{Name: RoleAdmin, Description: "Full system access", Builtin: true,
			Permissions: []Permission{AdminAll}},
		{Name: RoleDeveloper, Description: "Submit, read and cancel tasks, invoke agents, execute skills, read configuration", Builtin: true,
			Permissions: []Permission{TaskSubmit, TaskRead, TaskCancel, AgentInvoke, SkillExecute, ConfigRead}},
		{Name: RoleReadonly, Description: "Read tasks and configuration", Builtin: true,
			Permissions: []Permission{TaskRead, ConfigRead}},
		{Name: RoleCI, Description: "Automated pipelines: submit and read tasks, invoke agents, execute skills", Builtin: true,
			Permissions: []Permission{TaskSubmit, TaskRead, AgentInvoke, SkillExecute}},
	}
}

// roleSet is a set of role indices of a roleTable.
type roleSet []uint64

func newRoleSet(n int) roleSet { return make(roleSet, (n+63)/64) }

func (s roleSet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s roleSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s roleSet) union(o roleSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

// intersects reports whether s and o share a role.
func (s roleSet) intersects(o roleSet) bool {
	for i := range s {
		if s[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// role is a resolved role.
type role struct {
	Role
	// grant is what the role grants, inherited and widened (admin:all
	// implies all).
	grant permSet
	// ancestors holds the role itself and every role it inherits,
	// transitively: the roles it counts as in an allowedRoles list.
	ancestors roleSet
	// rule names where the role is defined.
	rule string
}

// roleTable holds a node's roles: the built-in ones, then the custom ones
// in name order.
type roleTable struct {
	roles []role
	index map[string]int
}

// names lists the defined roles for an error message.
func (t *roleTable) names() string {
	const limit = 12
	var b strings.Builder
	for i, r := range t.roles {
		if i == limit {
			b.WriteString(", … (" + strconv.Itoa(len(t.roles)-limit) + " more)")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Name)
	}
	return b.String()
}

// set returns the set of the named roles, which must all be defined.
func (t *roleTable) set(names []string) roleSet {
	s := newRoleSet(len(t.roles))
	for _, n := range names {
		if i, ok := t.index[n]; ok {
			s.add(i)
		}
	}
	return s
}

// buildRoles checks the custom roles of a node file and resolves them with
// the built-in ones. The table's index always holds every role name, so
// that other fields can be checked against it; the roles are resolved only
// when there are no problems.
func buildRoles(specs map[string]roleSpec) (*roleTable, problems) {
	var ps problems
	t := &roleTable{index: map[string]int{}}
	for _, r := range builtinRoles() {
		t.index[r.Name] = len(t.roles)
		t.roles = append(t.roles, role{Role: r, rule: "built-in role " + r.Name})
	}
	if len(specs) > MaxRoles {
		ps.add("roles", "at most %d custom roles are allowed, got %d", MaxRoles, len(specs))
		return t, ps
	}
	names := make([]string, 0, len(specs))
	for name := range specs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		field := "roles." + name
		if msg := checkRoleName(name); msg != "" {
			ps.add(field, "%s", msg)
			continue
		}
		if _, builtin := t.index[name]; builtin {
			ps.add(field, "redefines the built-in role %s; choose another name and inherit it", name)
			continue
		}
		spec := specs[name]
		t.index[name] = len(t.roles)
		t.roles = append(t.roles, role{
			Role: Role{Name: name, Description: spec.Description, Inherits: slices.Clone(spec.Inherits)},
			rule: nodePolicyRule + ": " + field,
		})
	}
	for _, name := range names {
		field := "roles." + name
		spec := specs[name]
		seen := map[string]int{}
		for i, parent := range spec.Inherits {
			f := field + ".inherits[" + strconv.Itoa(i) + "]"
			if _, ok := t.index[parent]; !ok {
				ps.add(f, "unknown role %q (defined roles: %s)", clipName(parent), t.names())
			} else if j, dup := seen[parent]; dup {
				ps.add(f, "duplicate role %q (also at index %d)", parent, j)
			} else {
				seen[parent] = i
			}
		}
		ps.permissionList(field+".additionalPermissions", spec.AdditionalPermissions)
	}
	ps = append(ps, cycles(names, specs, t)...)
	if len(ps) > 0 {
		return t, ps
	}
	t.resolve(specs)
	return t, nil
}

// cycles reports each inheritance cycle among the custom roles once, at
// its alphabetically first role, as "roles.a: inheritance cycle a -> b -> a".
func cycles(names []string, specs map[string]roleSpec, t *roleTable) problems {
	const (
		white = iota
		grey
		black
	)
	var ps problems
	color := make(map[string]int, len(names))
	reported := map[string]bool{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range specs[n].Inherits {
			if _, custom := specs[m]; !custom {
				continue
			}
			if _, defined := t.index[m]; !defined {
				continue
			}
			switch color[m] {
			case white:
				visit(m)
			case grey:
				cyc := slices.Clone(stack[slices.Index(stack, m):])
				first := 0
				for i, r := range cyc {
					if r < cyc[first] {
						first = i
					}
				}
				cyc = append(cyc[first:], cyc[:first]...)
				key := strings.Join(cyc, "\x00")
				if !reported[key] {
					reported[key] = true
					ps.add("roles."+cyc[0], "inheritance cycle %s -> %s", strings.Join(cyc, " -> "), cyc[0])
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range names {
		if _, defined := t.index[n]; defined && color[n] == white {
			visit(n)
		}
	}
	return ps
}

// resolve computes every role's permissions and ancestors; the
// inheritance graph must be acyclic.
func (t *roleTable) resolve(specs map[string]roleSpec) {
	n := len(t.roles)
	own := make([]permSet, n)
	done := make([]bool, n)
	var visit func(i int)
	visit = func(i int) {
		if done[i] {
			return
		}
		r := &t.roles[i]
		r.ancestors = newRoleSet(n)
		r.ancestors.add(i)
		for _, p := range r.Permissions {
			own[i] |= p.bit()
		}
		for _, p := range specs[r.Name].AdditionalPermissions {
			own[i] |= p.bit()
		}
		if !r.Builtin {
			for _, parent := range r.Inherits {
				j := t.index[parent]
				visit(j)
				own[i] |= own[j]
				r.ancestors.union(t.roles[j].ancestors)
			}
		}
		r.Permissions = own[i].list()
		r.grant = own[i].widen()
		done[i] = true
	}
	for i := range t.roles {
		visit(i)
	}
}
