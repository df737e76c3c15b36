package role_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/agent/role"
	"github.com/coderclaw/coderclaw/internal/config"
)

func TestBuiltins(t *testing.T) {
	want := []string{"architecture-advisor", "bug-analyzer", "code-creator", "code-reviewer",
		"documentation-agent", "refactor-agent", "test-generator"}
	var got []string
	for _, r := range role.Builtins() {
		got = append(got, r.ID)
		if r.Prompt == "" || len(r.Skills) == 0 || r.Description == "" || r.Source != "builtin" {
			t.Errorf("built-in %s is incomplete: %+v", r.ID, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("built-ins %v, want %v", got, want)
	}
	for _, r := range role.Builtins() {
		if r.ID == "code-reviewer" && slices.Contains(r.Skills, "file-write") {
			t.Errorf("code-reviewer may write files: %v", r.Skills)
		}
	}
}

func TestParseAndMerge(t *testing.T) {
	data := []byte(`agents:
  - id: go-expert
    name: Go expert
    description: Knows Go.
    capabilities: [go]
    provider: ollama
    model: qwen3-coder
    prompt: You write Go.
    skills: [file-read, grep]
    maxSteps: 12
  - id: code-reviewer
    model: claude-opus-4-1
    skills: [file-read]
`)
	team, err := role.Parse("team-agents.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	all := role.Merge(role.Builtins(), team)
	byID := map[string]role.Role{}
	for _, r := range all {
		byID[r.ID] = r
	}
	g := byID["go-expert"]
	if g.Provider != "ollama" || g.Model != "qwen3-coder" || g.MaxSteps != 12 || !slices.Equal(g.Skills, []string{"file-read", "grep"}) || g.Source != "team-agents.yaml" {
		t.Errorf("added role %+v", g)
	}
	cr := byID["code-reviewer"]
	if cr.Model != "claude-opus-4-1" || !slices.Equal(cr.Skills, []string{"file-read"}) || !strings.Contains(cr.Prompt, "review") || cr.Name != "Code reviewer" {
		t.Errorf("overridden role %+v: want the team's model and skills over the built-in's prompt and name", cr)
	}
	if len(all) != len(role.Builtins())+1 {
		t.Errorf("%d roles, want %d", len(all), len(role.Builtins())+1)
	}
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml, want string
		line       int
	}{
		"unknown key":  {"agents:\n  - id: a\n    modle: x\n", "modle", 3},
		"missing id":   {"agents:\n  - name: a\n", "agents[0].id", 2},
		"bad id":       {"agents:\n  - id: Bad Id\n", "agents[0].id", 2},
		"duplicate id": {"agents:\n  - id: a\n  - id: a\n", "duplicate agent", 3},
		"negative":     {"agents:\n  - id: a\n    maxSteps: -1\n", "maxSteps", 3},
		"wrong type":   {"agents:\n  - id: a\n    skills: grep\n", "skills", 3},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := role.Parse("team-agents.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != "team-agents.yaml" || ce.Line != tc.line {
				t.Errorf("error %#v, want file team-agents.yaml line %d", ce, tc.line)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	rs, err := role.Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || rs != nil {
		t.Errorf("missing file: %v %v", rs, err)
	}
	p := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(p, []byte("agents: [{id: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rs, err := role.Load(p); err != nil || len(rs) != 1 || rs[0].Source != p {
		t.Errorf("load: %v %v", rs, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("agents:\n  - id: a\n    skills: [x]\n"))
	f.Add([]byte("agents: [{id: b, maxSteps: 3, prompt: hi}]"))
	f.Add([]byte("agents:\n  - id: ''\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := role.Parse("f.yaml", data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if r.ID == "" || seen[r.ID] || r.MaxSteps < 0 || r.MaxTokens < 0 {
				t.Fatalf("accepted an invalid role set: %+v", rs)
			}
			seen[r.ID] = true
		}
	})
}
