package workspace_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/workspace"
)

// dialEnv names the variable that makes the test binary a helper process
// that dials the address it holds and exits 0 when connected, 3 when not.
const dialEnv = "WORKSPACE_TEST_DIAL"

func TestMain(m *testing.M) {
	// A landlock Sandbox executes the test binary again to confine it.
	if workspace.SandboxMain() {
		return
	}
	if addr := os.Getenv(dialEnv); addr != "" {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(3)
		}
		conn.Close()
		os.Exit(0)
	}
	// Tests do not depend on the machine's git configuration.
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Exit(m.Run())
}

// run runs git in dir with a fixed identity and returns its trimmed
// output, failing the test on error.
func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s in %s: %v", strings.Join(args, " "), dir, err)
	}
	return out
}

func runErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// newRepo returns a git repository with one commit holding README.md and
// .gitignore (ignoring *.log).
func newRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "init", "-q")
	writeFile(t, filepath.Join(dir, "README.md"), "hello\nworld\n")
	writeFile(t, filepath.Join(dir, ".gitignore"), "*.log\n")
	run(t, dir, "add", "-A")
	run(t, dir, "commit", "-q", "-m", "initial")
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newManager returns a manager with worktrees in a temporary directory
// and no sandbox.
func newManager(t testing.TB, dir string) *workspace.Manager {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "worktrees")
	}
	m, err := workspace.New(workspace.Config{Dir: dir, Sandbox: workspace.SandboxConfig{Mode: workspace.SandboxNone}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func open(t testing.TB, m *workspace.Manager, repo, taskID string) *workspace.Workspace {
	t.Helper()
	ws, err := m.Open(context.Background(), repo, taskID)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", repo, taskID, err)
	}
	return ws
}

const taskID = "01937c4e-8f2a-7b3c-9d4e-5f6a7b8c9d0e"
