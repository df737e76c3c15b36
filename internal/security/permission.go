package security

import "strings"

// Permission is one right a role grants. The set is closed; the values are
// the strings the configuration files and the wire use.
type Permission string

// The permissions. AdminAll implies every other one.
const (
	TaskSubmit   Permission = "task:submit"
	TaskRead     Permission = "task:read"
	TaskCancel   Permission = "task:cancel"
	AgentInvoke  Permission = "agent:invoke"
	SkillExecute Permission = "skill:execute"
	ConfigRead   Permission = "config:read"
	ConfigWrite  Permission = "config:write"
	AdminAll     Permission = "admin:all"
)

// Permissions returns every permission, in the order of the reference.
func Permissions() []Permission {
	return []Permission{TaskSubmit, TaskRead, TaskCancel, AgentInvoke, SkillExecute, ConfigRead, ConfigWrite, AdminAll}
}

// Valid reports whether p is one of the defined permissions.
func (p Permission) Valid() bool { return p.bit() != 0 }

// permSet is a set of permissions, one bit each in the order of
// Permissions.
type permSet uint8

// allPerms is every permission; a set holding AdminAll is widened to it.
const allPerms permSet = 1<<8 - 1

// bit returns the set holding only p, or 0 for an unknown permission.
func (p Permission) bit() permSet {
	switch p {
	case TaskSubmit:
		return 1 << 0
	case TaskRead:
		return 1 << 1
	case TaskCancel:
		return 1 << 2
	case AgentInvoke:
		return 1 << 3
	case SkillExecute:
		return 1 << 4
	case ConfigRead:
		return 1 << 5
	case ConfigWrite:
		return 1 << 6
	case AdminAll:
		return 1 << 7
	}
	return 0
}

// widen applies "admin:all implies all".
func (s permSet) widen() permSet {
	if s&AdminAll.bit() != 0 {
		return allPerms
	}
	return s
}

// list returns the permissions in s, in the order of Permissions.
func (s permSet) list() []Permission {
	var out []Permission
	for _, p := range Permissions() {
		if s&p.bit() != 0 {
			out = append(out, p)
		}
	}
	return out
}

// permissionNames lists the permissions for an error message.
func permissionNames() string {
	var b strings.Builder
	for i, p := range Permissions() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(p))
	}
	return b.String()
}
