package skill

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestShellExec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ command, want string }{
		{"echo out; echo err >&2; exit 3", "out\nerr\n[exit code 3]"},
		{"true", "(no output)\n[exit code 0]"},
		{"printf 'no newline'", "no newline\n[exit code 0]"},
		{"pwd", real + "\n[exit code 0]"},
		{"cat", "(no output)\n[exit code 0]"}, // stdin is empty, not the node's
		{"kill -9 $$", "(no output)\n[ended by signal: killed]"},
	}
	for _, tc := range tests {
		if got := mustRun(t, ShellExec{}, dir, input(t, map[string]any{"command": tc.command})); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.command, got, tc.want)
		}
	}
	for _, tc := range []struct{ input, want string }{
		{`{"command":"  "}`, "command is required"},
		{`{"command":"true","timeout_seconds":-1}`, "timeout_seconds must be positive"},
		{`{"command":"true","timeout_seconds":601}`, "timeout_seconds is at most 600"},
		{`{"command":"true","timeout":5}`, `unknown field "timeout"`},
	} {
		if _, err := run(t, ShellExec{}, dir, tc.input); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}
	if _, err := run(t, ShellExec{}, "", `{"command":"true"}`); err == nil {
		t.Error("shell-exec without a workspace succeeded")
	}
}

func TestShellExecLogsLines(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		lines []string
	)
	env := Env{Dir: t.TempDir(), Log: func(stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, stream+": "+line)
	}}
	if _, err := (ShellExec{}).Call(context.Background(), env, json.RawMessage(`{"command":"echo one; echo two >&2; printf three"}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lines, "|"), "stdout: one|stdout: two|stdout: three"; got != want {
		t.Errorf("logged %q, want %q", got, want)
	}
}

func TestShellExecOutputCap(t *testing.T) {
	t.Parallel()
	out := mustRun(t, ShellExec{}, t.TempDir(), `{"command":"echo START; head -c 300000 /dev/zero | tr '\\0' a; echo; echo END"}`)
	if len(out) > MaxCommandOutput+100 {
		t.Errorf("output is %d bytes, more than the cap of %d", len(out), MaxCommandOutput)
	}
	for _, want := range []string{"START\naaa", "bytes of output omitted ...]\naaa", "aaa\nEND\n[exit code 0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.HasPrefix(out, "START\n") || !strings.HasSuffix(out, "END\n[exit code 0]") {
		t.Errorf("output does not keep its head and tail: %q ... %q", out[:20], out[len(out)-30:])
	}
}

// prefixSandbox is a sandbox that runs every command through env(1),
// marking its environment.
type prefixSandbox struct{}

func (prefixSandbox) Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, "env", append([]string{"SANDBOXED=yes"}, argv...)...)
	cmd.Dir = dir
	return cmd, nil
}

func (prefixSandbox) Kind() string { return "prefix" }

func TestCommandsRunInTheSandbox(t *testing.T) {
	t.Parallel()
	env := Env{Dir: t.TempDir(), Sandbox: prefixSandbox{}}
	out, err := (ShellExec{}).Call(context.Background(), env, json.RawMessage(`{"command":"echo $SANDBOXED"}`))
	if err != nil || out != "yes\n[exit code 0]" {
		t.Errorf("shell-exec: %q, %v", out, err)
	}
	out, err = (RunTests{}).Call(context.Background(), env, json.RawMessage(`{"command":"test \"$SANDBOXED\" = yes"}`))
	if err != nil || !strings.HasPrefix(out, "tests passed:") {
		t.Errorf("run-tests: %q, %v", out, err)
	}
}

func TestDetectTestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"go", map[string]string{"go.mod": "module m\n", "Makefile": "test:\n\ttrue\n"}, "go test ./..."},
		{"npm", map[string]string{"package.json": `{"scripts":{"test":"jest"}}`}, "npm test"},
		{"npm without a test script", map[string]string{"package.json": `{"scripts":{"build":"tsc"}}`}, ""},
		{"broken package.json", map[string]string{"package.json": `{"scripts":`}, ""},
		{"pytest.ini", map[string]string{"pytest.ini": "[pytest]\n"}, "python3 -m pytest -q"},
		{"pyproject", map[string]string{"pyproject.toml": "[tool.pytest.ini_options]\n"}, "python3 -m pytest -q"},
		{"pyproject without pytest", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\n"}, ""},
		{"cargo", map[string]string{"Cargo.toml": "[package]\n"}, "cargo test"},
		{"make", map[string]string{"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./x\n"}, "make test"},
		{"make without a test target", map[string]string{"Makefile": "build:\n\tcc x.c\n# test: later\n"}, ""},
		{"nothing", map[string]string{"README": "hi"}, ""},
		{"go.mod below the root", map[string]string{"sub/go.mod": "module m\n"}, ""},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, tc.files)
		if got := DetectTestCommand(dir); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRunTests(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	module := func(t *testing.T, test string) string {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"go.mod":    "module example.com/m\n\ngo 1.21\n",
			"m.go":      "package m\n\nfunc Add(a, b int) int { return a + b }\n",
			"m_test.go": "package m\n\nimport \"testing\"\n\n" + test,
		})
		return dir
	}
	t.Run("pass", func(t *testing.T) {
		t.Parallel()
		dir := module(t, "func TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"wrong\")\n\t}\n}\n")
		out := mustRun(t, RunTests{}, dir, `{}`)
		if !strings.HasPrefix(out, "tests passed: go test ./... [exit code 0]\n\nok  \texample.com/m") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		dir := module(t, "func TestBad(t *testing.T) {\n\tt.Fatalf(\"Add(2, 2) = %d\", Add(2, 2))\n}\n")
		out := mustRun(t, RunTests{}, dir, `{}`)
		if !strings.HasPrefix(out, "tests FAILED: go test ./... [exit code 1]\n\n") ||
			!strings.Contains(out, "--- FAIL: TestBad") || !strings.Contains(out, "Add(2, 2) = 4") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("explicit command", func(t *testing.T) {
		t.Parallel()
		out := mustRun(t, RunTests{}, t.TempDir(), `{"command":"echo checking; exit 4"}`)
		if out != "tests FAILED: echo checking; exit 4 [exit code 4]\n\nchecking\n" {
			t.Errorf("output %q", out)
		}
	})
	t.Run("nothing detected", func(t *testing.T) {
		t.Parallel()
		_, err := run(t, RunTests{}, t.TempDir(), `{}`)
		if err == nil || !strings.Contains(err.Error(), "no test command found") {
			t.Errorf("error %v", err)
		}
	})
}
