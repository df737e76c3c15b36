package skill

import (
	"fmt"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/security"
)

// SourceBuiltin is the Source of the built-in skills' Info.
const SourceBuiltin = "builtin"

// builtinInfo describes a built-in skill: each requires skill:execute.
func builtinInfo(id, description string, dangerous bool) coderclaw.Skill {
	return coderclaw.Skill{
		ID:                 id,
		Description:        description,
		RequiredPermission: string(security.SkillExecute),
		Dangerous:          dangerous,
		Source:             SourceBuiltin,
	}
}

// Builtins returns the built-in skills: file-read, file-write, file-edit,
// list, grep, shell-exec, git-status, git-diff, git-commit and run-tests.
// shell-exec and run-tests are dangerous: they run what the model or the
// repository says.
func Builtins() []Skill {
	return []Skill{
		FileRead{}, FileWrite{}, FileEdit{},
		List{}, Grep{},
		ShellExec{},
		GitStatus{}, GitDiff{}, GitCommit{},
		RunTests{},
	}
}

// Set is a set of skills with distinct ids, in the order they were given.
// It is immutable and safe for concurrent use; the zero value is empty.
type Set struct {
	list []Skill
	byID map[string]Skill
}

// NewSet returns the set of skills. A nil skill, an empty id or an id
// given twice is an error naming it.
func NewSet(skills ...Skill) (*Set, error) {
	s := &Set{byID: make(map[string]Skill, len(skills))}
	for i, sk := range skills {
		if sk == nil {
			return nil, fmt.Errorf("skill set: skill %d is nil", i)
		}
		id := sk.Info().ID
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("skill set: skill %d (%T) has an empty id", i, sk)
		}
		if _, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("skill set: two skills have the id %q", id)
		}
		s.byID[id] = sk
		s.list = append(s.list, sk)
	}
	return s, nil
}

// Get returns the skill with the id.
func (s *Set) Get(id string) (Skill, bool) {
	if s == nil {
		return nil, false
	}
	sk, ok := s.byID[id]
	return sk, ok
}

// Skills returns the skills of the set, in order.
func (s *Set) Skills() []Skill {
	if s == nil {
		return nil
	}
	return append([]Skill(nil), s.list...)
}

// Infos describes the skills of the set, in order.
func (s *Set) Infos() []coderclaw.Skill {
	if s == nil {
		return nil
	}
	out := make([]coderclaw.Skill, len(s.list))
	for i, sk := range s.list {
		out[i] = sk.Info()
	}
	return out
}

// Select returns the subset with the ids given, in their order (a role's
// allowed skills). An id the set does not hold is an error naming it and
// the ids it holds; an id given twice is an error too.
func (s *Set) Select(ids []string) (*Set, error) {
	picked := make([]Skill, 0, len(ids))
	for _, id := range ids {
		sk, ok := s.Get(id)
		if !ok {
			return nil, fmt.Errorf("unknown skill %q (known: %s)", id, strings.Join(s.ids(), ", "))
		}
		picked = append(picked, sk)
	}
	return NewSet(picked...)
}

func (s *Set) ids() []string {
	if s == nil || len(s.list) == 0 {
		return []string{"none"}
	}
	out := make([]string, len(s.list))
	for i, sk := range s.list {
		out[i] = sk.Info().ID
	}
	return out
}
