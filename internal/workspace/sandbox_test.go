package workspace_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/skill"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

// sandboxFor returns a sandbox of the given kind, skipping the test when
// the machine cannot offer it.
func sandboxFor(t *testing.T, kind string, cfg workspace.SandboxConfig) *workspace.Sandbox {
	t.Helper()
	cfg.Mode = kind
	sb, err := workspace.NewSandbox(cfg, nil)
	if err != nil {
		switch kind {
		case workspace.SandboxBwrap:
			if _, lookErr := exec.LookPath("bwrap"); lookErr != nil {
				t.Skipf("bwrap is not installed: %v", err)
			}
		case workspace.SandboxLandlock:
			if runtime.GOOS != "linux" || strings.Contains(err.Error(), "does not offer Landlock") {
				t.Skipf("landlock unavailable: %v", err)
			}
		}
		t.Fatalf("NewSandbox(%s): %v", kind, err)
	}
	if sb.Kind() != kind {
		t.Fatalf("Kind() = %q, want %q", sb.Kind(), kind)
	}
	return sb
}

// nonTmpDir returns a new directory outside /tmp, which a landlock sandbox
// leaves writable, so that writes outside the workspace can be told.
func nonTmpDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "coderclaw-workspace-test-")
	if err != nil {
		t.Skipf("no directory outside /tmp to test with: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func runIn(t *testing.T, sb *workspace.Sandbox, dir string, argv ...string) (string, error) {
	t.Helper()
	cmd, err := sb.Command(context.Background(), dir, argv)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

var sandboxKinds = []string{workspace.SandboxBwrap, workspace.SandboxLandlock, workspace.SandboxNone}

func TestSandboxConfinesWrites(t *testing.T) {
	for _, kind := range sandboxKinds {
		t.Run(kind, func(t *testing.T) {
			base := nonTmpDir(t)
			dir := filepath.Join(base, "work")
			outside := filepath.Join(base, "outside")
			extra := filepath.Join(base, "extra")
			for _, d := range []string{dir, outside, extra} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			sb := sandboxFor(t, kind, workspace.SandboxConfig{Writable: []string{extra}})

			if out, err := runIn(t, sb, dir, "sh", "-c", "echo inside > inside.txt && echo extra > "+extra+"/extra.txt"); err != nil {
				t.Fatalf("writing inside: %v: %s", err, out)
			}
			if got := readFile(t, filepath.Join(dir, "inside.txt")); got != "inside\n" {
				t.Errorf("inside.txt = %q", got)
			}
			if got := readFile(t, filepath.Join(extra, "extra.txt")); got != "extra\n" {
				t.Errorf("extra.txt = %q", got)
			}

			out, err := runIn(t, sb, dir, "sh", "-c", "echo escaped > "+outside+"/escaped.txt")
			_, statErr := os.Stat(filepath.Join(outside, "escaped.txt"))
			if kind == workspace.SandboxNone {
				if err != nil || statErr != nil {
					t.Errorf("without a sandbox, writing outside failed: %v, %v: %s", err, statErr, out)
				}
				return
			}
			if err == nil || statErr == nil {
				t.Errorf("a %s sandbox let a command write outside its directory (exit %v, file %v): %s", kind, err, statErr, out)
			}
		})
	}
}

func TestSandboxCutsNetwork(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Setenv(dialEnv, ln.Addr().String())

	for _, kind := range []string{workspace.SandboxBwrap, workspace.SandboxLandlock} {
		for _, network := range []bool{false, true} {
			name := kind + "/no-network"
			if network {
				name = kind + "/network"
			}
			t.Run(name, func(t *testing.T) {
				// The test binary dials; bwrap hides /tmp, where it lives,
				// unless it is bound.
				sb := sandboxFor(t, kind, workspace.SandboxConfig{
					Network: network, Writable: []string{filepath.Dir(exe)},
				})
				dir := nonTmpDir(t)
				out, err := runIn(t, sb, dir, exe)
				var exitErr *exec.ExitError
				switch {
				case network && err != nil:
					t.Errorf("with Network, dialing %s failed: %v: %s", ln.Addr(), err, out)
				case !network && err == nil:
					t.Errorf("without Network, dialing %s from a %s sandbox succeeded", ln.Addr(), kind)
				case !network && !(errors.As(err, &exitErr) && exitErr.ExitCode() == 3):
					t.Errorf("without Network: %v (want exit status 3 from a failed dial): %s", err, out)
				}
			})
		}
	}
}

func TestNewSandboxRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []workspace.SandboxConfig{
		{Mode: "docker"},
		{Writable: []string{"relative/dir"}},
	} {
		if _, err := workspace.NewSandbox(cfg, nil); err == nil {
			t.Errorf("NewSandbox(%+v) succeeded", cfg)
		}
	}
}

func TestSandboxAutoPicksAKind(t *testing.T) {
	t.Parallel()
	sb, err := workspace.NewSandbox(workspace.SandboxConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := workspace.SandboxNone
	if _, err := workspace.NewSandbox(workspace.SandboxConfig{Mode: workspace.SandboxBwrap}, nil); err == nil {
		want = workspace.SandboxBwrap
	} else if _, err := workspace.NewSandbox(workspace.SandboxConfig{Mode: workspace.SandboxLandlock}, nil); err == nil {
		want = workspace.SandboxLandlock
	}
	if sb.Kind() != want {
		t.Errorf("auto picked %q, want %q", sb.Kind(), want)
	}
}

func TestSandboxCommandChecksArguments(t *testing.T) {
	t.Parallel()
	sb := sandboxFor(t, workspace.SandboxNone, workspace.SandboxConfig{})
	for _, tc := range []struct {
		dir  string
		argv []string
	}{
		{t.TempDir(), nil},
		{"relative", []string{"true"}},
		{filepath.Join(t.TempDir(), "missing"), []string{"true"}},
	} {
		if _, err := sb.Command(context.Background(), tc.dir, tc.argv); err == nil {
			t.Errorf("Command(%q, %q) succeeded", tc.dir, tc.argv)
		}
	}
}

func TestSandboxWritesGitCommonDir(t *testing.T) {
	for _, kind := range []string{workspace.SandboxBwrap, workspace.SandboxLandlock} {
		t.Run(kind, func(t *testing.T) {
			sb := sandboxFor(t, kind, workspace.SandboxConfig{})
			// A worktree outside /tmp whose repository is elsewhere too.
			base := nonTmpDir(t)
			repo := filepath.Join(base, "repo")
			if err := os.Mkdir(repo, 0o755); err != nil {
				t.Fatal(err)
			}
			run(t, repo, "init", "-q")
			writeFile(t, filepath.Join(repo, "a.txt"), "a\n")
			run(t, repo, "add", "-A")
			run(t, repo, "commit", "-q", "-m", "a")
			m := newManager(t, filepath.Join(base, "worktrees"))
			ws := open(t, m, repo, taskID)
			writeFile(t, filepath.Join(ws.Dir, "b.txt"), "b\n")
			out, err := runIn(t, sb, ws.Dir, "git", "-c", "user.name=T", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
				"commit", "-q", "--no-verify", "-a", "--allow-empty", "-m", "from the sandbox")
			if err != nil {
				t.Fatalf("git commit in a %s sandbox: %v: %s", kind, err, out)
			}
			if got := run(t, repo, "log", "-1", "--format=%s", ws.Branch); got != "from the sandbox" {
				t.Errorf("branch tip %q", got)
			}
		})
	}
}

// A Sandbox is what skills run commands through.
var _ skill.Sandbox = (*workspace.Sandbox)(nil)
