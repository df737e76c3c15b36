package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/config"
)

// runSkillCmd runs the CLI in-process with home as $CODERCLAW_HOME.
func runSkillCmd(t *testing.T, home string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Version: "test", Dir: t.TempDir(),
		Getenv: func(k string) string {
			if k == config.EnvHome {
				return home
			}
			return ""
		},
	})
	return code, out.String(), errb.String()
}

func hexSum(data string) string {
	s := sha256.Sum256([]byte(data))
	return hex.EncodeToString(s[:])
}

// skillRegistry writes a directory registry offering the skills ids, each
// of which echoes its id, and returns its path.
func skillRegistry(t *testing.T, ids ...string) string {
	t.Helper()
	dir := t.TempDir()
	idx := "skills:\n"
	for _, id := range ids {
		script := "echo " + id + "\n"
		manifest := fmt.Sprintf("id: %s\ndescription: Say %s.\nversion: 1.0.0\ncommand: [sh, run.sh]\nfiles:\n  - path: run.sh\n    sha256: %s\n", id, id, hexSum(script))
		writeTestFile(t, filepath.Join(dir, "skills", id, "run.sh"), script)
		writeTestFile(t, filepath.Join(dir, "skills", id, "skill.yaml"), manifest)
		idx += fmt.Sprintf("  - name: %s\n    version: 1.0.0\n    path: skills/%s\n    sha256: %s\n", id, id, hexSum(manifest))
	}
	writeTestFile(t, filepath.Join(dir, "index.yaml"), idx)
	return dir
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type skillList struct {
	Skills []struct {
		ID, Version, Dir string
	} `json:"skills"`
	MissingRequired []string `json:"missing_required"`
}

func listSkills(t *testing.T, home string) skillList {
	t.Helper()
	code, out, errOut := runSkillCmd(t, home, "skill", "list", "-o", "json")
	if code != ExitOK {
		t.Fatalf("skill list: exit %d: %s", code, errOut)
	}
	var l skillList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("skill list output %q: %v", out, err)
	}
	return l
}

func TestSkillInstallAndList(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	writeTestFile(t, filepath.Join(home, ".coderClaw", "team-policy.yaml"),
		"organizationPolicy:\n  requiredSkills: [go-lint, fmt]\n  deniedSkills: [exfiltrate]\n")
	reg := skillRegistry(t, "go-lint", "fmt", "exfiltrate", "extra")

	if l := listSkills(t, home); len(l.Skills) != 0 || strings.Join(l.MissingRequired, ",") != "go-lint,fmt" {
		t.Errorf("before install: %+v", l)
	}
	code, out, errOut := runSkillCmd(t, home, "skill", "install", "extra", "--registry", reg)
	if want := "extra 1.0.0 installed in " + filepath.Join(home, "skills", "extra") + "\n"; code != ExitOK || out != want {
		t.Errorf("install extra: exit %d, %q (%s); want %q", code, out, errOut, want)
	}

	code, out, errOut = runSkillCmd(t, home, "skill", "install", "--required", "--registry", reg, "-o", "json")
	var installed []struct{ ID string }
	if code != ExitOK || json.Unmarshal([]byte(out), &installed) != nil || len(installed) != 2 || installed[0].ID != "go-lint" || installed[1].ID != "fmt" {
		t.Errorf("install --required: exit %d, %q (%s)", code, out, errOut)
	}
	l := listSkills(t, home)
	if len(l.Skills) != 3 || len(l.MissingRequired) != 0 {
		t.Errorf("after install: %+v", l)
	}

	code, out, _ = runSkillCmd(t, home, "skill", "list")
	if code != ExitOK || !strings.Contains(out, "go-lint  1.0.0    skill:execute  false      Say go-lint.") {
		t.Errorf("skill list: exit %d:\n%s", code, out)
	}

	code, _, errOut = runSkillCmd(t, home, "skill", "install", "exfiltrate", "--registry", reg)
	if code != ExitFailure || !strings.Contains(errOut, "skill exfiltrate is denied by the organisation") {
		t.Errorf("denied install: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "skills", "exfiltrate")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the denied skill is installed: %v", err)
	}
}

func TestSkillInstallUsage(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	reg := skillRegistry(t, "go-lint")
	for _, args := range [][]string{
		{"skill", "install", "go-lint"},
		{"skill", "install", "--registry", reg},
		{"skill", "install", "go-lint", "--required", "--registry", reg},
	} {
		if code, _, errOut := runSkillCmd(t, home, args...); code != ExitUsage {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	code, _, errOut := runSkillCmd(t, home, "skill", "install", "nope", "--registry", reg)
	if code != ExitFailure || !strings.Contains(errOut, "install skill nope: not in registry") {
		t.Errorf("unknown skill: exit %d: %s", code, errOut)
	}
	code, out, _ := runSkillCmd(t, home, "skill", "install", "--required", "--registry", reg)
	if code != ExitOK || out != "the organisation requires no skills\n" {
		t.Errorf("--required without a team policy: exit %d: %q", code, out)
	}
}
