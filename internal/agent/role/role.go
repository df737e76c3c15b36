// Package role defines agent roles: the built-in ones (code-creator,
// code-reviewer, ...) and those a team adds or overrides in
// team-agents.yaml. A role is what an agent is asked to be (its prompt),
// what it may use (its skills), and what plays it (a provider and model).
package role

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/coderclaw/coderclaw/internal/config"
)

// Role is one agent definition.
type Role struct {
	ID           string   `yaml:"id"`
	Name         string   `yaml:"name"`
	Description  string   `yaml:"description"`
	Capabilities []string `yaml:"capabilities"`
	// Provider plays the role: an LLM provider (anthropic, openai, ollama,
	// or the name of an OpenAI-compatible server in runtime.yaml), an
	// external coding CLI (claude, codex, opencode, goose, aider), or empty
	// for the node's default LLM provider.
	Provider string `yaml:"provider"`
	// Model is the provider's model; empty means the provider's default.
	Model  string `yaml:"model"`
	Prompt string `yaml:"prompt"`
	// Skills are the skills the role may call; empty means every skill of
	// the node.
	Skills []string `yaml:"skills"`
	// MaxSteps and MaxTokens are the role's budgets; zero means the node's.
	MaxSteps  int `yaml:"maxSteps"`
	MaxTokens int `yaml:"maxTokens"`
	// Source says where the role was defined: "builtin" or the file.
	Source string `yaml:"-"`
}

// File is the shape of team-agents.yaml.
type File struct {
	Agents []Role `yaml:"agents"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks what decoding cannot.
func (f *File) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &config.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for i, r := range f.Agents {
		at := fmt.Sprintf("agents[%d]", i)
		switch j, dup := seen[r.ID]; {
		case r.ID == "":
			add(at+".id", "must be set")
		case !idPattern.MatchString(r.ID):
			add(at+".id", "%q must be lower-case letters, digits, '.', '_' or '-' (at most 64)", r.ID)
		case dup:
			add(at+".id", "duplicate agent %q (also at index %d)", r.ID, j)
		default:
			seen[r.ID] = i
		}
		if r.MaxSteps < 0 {
			add(at+".maxSteps", "must not be negative, got %d", r.MaxSteps)
		}
		if r.MaxTokens < 0 {
			add(at+".maxTokens", "must not be negative, got %d", r.MaxTokens)
		}
		for k, s := range r.Skills {
			if strings.TrimSpace(s) == "" {
				add(fmt.Sprintf("%s.skills[%d]", at, k), "must not be empty")
			}
		}
	}
	return errors.Join(errs...)
}

// Parse reads a team-agents.yaml; file names it in errors, which carry
// file, line and field.
func Parse(file string, data []byte) ([]Role, error) {
	var f File
	if err := config.DecodeStrict(file, data, &f); err != nil {
		return nil, err
	}
	for i := range f.Agents {
		f.Agents[i].Source = file
	}
	return f.Agents, nil
}

// Load reads the team file at path; a missing file is no roles.
func Load(path string) ([]Role, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("team agents: %w", err)
	}
	return Parse(path, data)
}

// Merge lays team roles over base: a team role with a new id is added; one
// with a built-in's id overrides the fields it sets. The result is sorted
// by id.
func Merge(base, team []Role) []Role {
	out := slices.Clone(base)
	for _, t := range team {
		i := slices.IndexFunc(out, func(r Role) bool { return r.ID == t.ID })
		if i < 0 {
			if t.Name == "" {
				t.Name = t.ID
			}
			out = append(out, t)
			continue
		}
		r := &out[i]
		r.Source = t.Source
		set(&r.Name, t.Name)
		set(&r.Description, t.Description)
		set(&r.Provider, t.Provider)
		set(&r.Model, t.Model)
		set(&r.Prompt, t.Prompt)
		if t.Capabilities != nil {
			r.Capabilities = t.Capabilities
		}
		if t.Skills != nil {
			r.Skills = t.Skills
		}
		if t.MaxSteps != 0 {
			r.MaxSteps = t.MaxSteps
		}
		if t.MaxTokens != 0 {
			r.MaxTokens = t.MaxTokens
		}
	}
	slices.SortFunc(out, func(a, b Role) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
