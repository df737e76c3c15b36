package skill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Limits of the command skills.
const (
	// DefaultShellTimeout is how long shell-exec lets a command run when
	// no timeout is given.
	DefaultShellTimeout = 120 * time.Second
	// DefaultTestTimeout is how long run-tests lets the tests run when no
	// timeout is given.
	DefaultTestTimeout = 300 * time.Second
	// MaxTimeout is the longest timeout a call may ask for.
	MaxTimeout = 600 * time.Second
	// MaxCommandOutput bounds the output a command skill returns: the
	// first OutputHead bytes and the last MaxCommandOutput-OutputHead,
	// with a marker where the middle was left out.
	MaxCommandOutput = 64 << 10
	// OutputHead is the part of MaxCommandOutput kept from the start.
	OutputHead = 16 << 10
	// waitDelay bounds how long a call waits for the output of processes
	// that left the command's process group after it ended.
	waitDelay = 2 * time.Second
	// maxLogLine bounds one line passed to Env.Log.
	maxLogLine = 4 << 10
)

// errTimeout is the cause of a command's context when its timeout ends.
var errTimeout = errors.New("command timed out")

// commandResult is how a command ended.
type commandResult struct {
	// Output is stdout and stderr interleaved, clipped.
	Output string
	// ExitCode is the exit status, or -1 when the command was killed.
	ExitCode int
	// State describes a command ended by a signal ("signal: killed").
	State    string
	TimedOut bool
	Timeout  time.Duration
}

// status words how the command ended, in brackets.
func (r commandResult) status() string {
	switch {
	case r.TimedOut:
		return fmt.Sprintf("[timed out after %s: the command and every process it started were killed]", r.Timeout)
	case r.ExitCode < 0:
		return fmt.Sprintf("[ended by %s]", r.State)
	}
	return fmt.Sprintf("[exit code %d]", r.ExitCode)
}

// runCommand runs `sh -c command` through env.Sandbox (NoSandbox when it
// is nil) in env.Dir, in a process group of its own that is killed whole
// when the timeout or ctx ends, and also once the command has exited, so
// that nothing it started outlives the call. Output lines go to env.Log as
// they come. It returns an error only when the command could not start or
// ctx ended; a failing or timed out command is a result.
func runCommand(ctx context.Context, env Env, command string, timeout time.Duration) (commandResult, error) {
	res := commandResult{Timeout: timeout}
	sb := env.Sandbox
	if sb == nil {
		sb = NoSandbox{}
	}
	if env.Dir == "" {
		return res, errors.New("no workspace directory")
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	cmd, err := sb.Command(runCtx, env.Dir, []string{"sh", "-c", command})
	if err != nil {
		return res, fmt.Errorf("sandbox %s: %w", sb.Kind(), err)
	}
	// The command writes to a pipe of ours rather than one exec makes, so
	// that Wait returns when the command exits and the group can be killed
	// before waiting for the output of what it left running.
	pr, pw, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("output pipe: %w", err)
	}
	defer pr.Close()
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = pw, pw
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		pw.Close()
		return res, fmt.Errorf("start sh in sandbox %s: %w", sb.Kind(), err)
	}
	pw.Close()

	out := newClip(OutputHead, MaxCommandOutput-OutputHead)
	log := &lineLog{log: env.Log}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// A read error ends the output; what was read is kept.
		_, _ = io.Copy(io.MultiWriter(out, log), pr)
	}()
	_ = cmd.Wait()
	_ = killGroup(cmd)
	t := time.NewTimer(waitDelay)
	select {
	case <-copied:
	case <-t.C:
		// A process that left the group holds the pipe open.
		pr.Close()
		<-copied
	}
	t.Stop()
	log.flush()

	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Output = out.String()
	res.TimedOut = errors.Is(context.Cause(runCtx), errTimeout)
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode, res.State = ps.ExitCode(), ps.String()
	} else {
		res.ExitCode, res.State = -1, "an unknown cause"
	}
	return res, nil
}

// lineLog passes complete lines to an Env.Log.
type lineLog struct {
	log     func(stream, line string)
	partial []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	if l.log == nil {
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogLine - len(l.partial)
			l.partial = append(l.partial, p[:min(room, len(p))]...)
			if len(l.partial) >= maxLogLine {
				l.flush()
			}
			break
		}
		l.partial = append(l.partial, p[:min(i, maxLogLine)]...)
		l.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineLog) flush() {
	if l.log != nil && len(l.partial) > 0 {
		l.log("stdout", strings.ToValidUTF8(string(l.partial), "\uFFFD"))
	}
	l.partial = l.partial[:0]
}

// timeoutOf turns a timeout_seconds input into a duration.
func timeoutOf(seconds int, def time.Duration) (time.Duration, error) {
	switch {
	case seconds < 0:
		return 0, errors.New("input: timeout_seconds must be positive")
	case seconds == 0:
		return def, nil
	case time.Duration(seconds)*time.Second > MaxTimeout:
		return 0, fmt.Errorf("input: timeout_seconds is at most %d", int(MaxTimeout/time.Second))
	}
	return time.Duration(seconds) * time.Second, nil
}

// ShellExec is the shell-exec skill: runs a shell command in the
// workspace, through the sandbox.
type ShellExec struct{}

var _ Skill = ShellExec{}

type shellInput struct {
	Command        string `json:"command"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

// Info implements Skill.
func (ShellExec) Info() coderclaw.Skill {
	return builtinInfo("shell-exec", fmt.Sprintf("Run a shell command (sh -c) in the workspace root and return its output (stdout and stderr together) and exit code. "+
		"The command has no terminal and no input; it is killed, with every process it started, after timeout_seconds (default %d, at most %d), "+
		"and background processes do not outlive the call. Output beyond %d KiB is cut in the middle. "+
		"Prefer the file, list, grep and git skills for what they do.", int(DefaultShellTimeout/time.Second), int(MaxTimeout/time.Second), MaxCommandOutput>>10), true)
}

// Schema implements Skill.
func (ShellExec) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"command":{"type":"string","description":"The shell command, run with sh -c in the workspace root."},` +
		`"timeout_seconds":{"type":"integer","minimum":1,"maximum":600,"description":"Seconds before the command is killed. Default 120."}` +
		`},"required":["command"],"additionalProperties":false}`)
}

// Call implements Skill.
func (ShellExec) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in shellInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.Command) == "" {
		return "", errors.New("input: command is required")
	}
	timeout, err := timeoutOf(in.TimeoutSeconds, DefaultShellTimeout)
	if err != nil {
		return "", err
	}
	if _, err := rootDir(env.Dir); err != nil {
		return "", err
	}
	res, err := runCommand(ctx, env, in.Command, timeout)
	if err != nil {
		return "", fmt.Errorf("shell-exec: %w", err)
	}
	out := res.Output
	if out == "" {
		out = "(no output)\n"
	} else if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out + res.status(), nil
}

// RunTests is the run-tests skill: runs the project's tests, found from
// the files at the workspace root, or a command given.
type RunTests struct{}

var _ Skill = RunTests{}

type testsInput struct {
	Command        string `json:"command"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

// Info implements Skill.
func (RunTests) Info() coderclaw.Skill {
	return builtinInfo("run-tests", fmt.Sprintf("Run the project's tests in the workspace root and report whether they passed, with the exit code and output. "+
		"Without a command the test command is detected: go.mod runs `go test ./...`, package.json with a test script `npm test`, "+
		"pytest.ini or a pyproject.toml naming pytest `python3 -m pytest -q`, Cargo.toml `cargo test`, a Makefile with a test target `make test`. "+
		"Give command to run something else, such as one package's tests. Killed after timeout_seconds (default %d, at most %d); "+
		"output beyond %d KiB is cut in the middle.", int(DefaultTestTimeout/time.Second), int(MaxTimeout/time.Second), MaxCommandOutput>>10), true)
}

// Schema implements Skill.
func (RunTests) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"command":{"type":"string","description":"Test command to run with sh -c instead of the detected one, e.g. \"go test ./internal/foo/...\"."},` +
		`"timeout_seconds":{"type":"integer","minimum":1,"maximum":600,"description":"Seconds before the tests are killed. Default 300."}` +
		`},"additionalProperties":false}`)
}

// Call implements Skill.
func (RunTests) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in testsInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	timeout, err := timeoutOf(in.TimeoutSeconds, DefaultTestTimeout)
	if err != nil {
		return "", err
	}
	root, err := rootDir(env.Dir)
	if err != nil {
		return "", err
	}
	command := strings.TrimSpace(in.Command)
	if command == "" {
		if command = DetectTestCommand(root); command == "" {
			return "", errors.New("no test command found: the workspace root has no go.mod, package.json with a test script, " +
				"pytest.ini or pyproject.toml naming pytest, Cargo.toml or Makefile with a test target; give command")
		}
	}
	res, err := runCommand(ctx, env, command, timeout)
	if err != nil {
		return "", fmt.Errorf("run-tests: %w", err)
	}
	verdict := "tests passed"
	switch {
	case res.TimedOut:
		verdict = "tests did not finish"
	case res.ExitCode != 0:
		verdict = "tests FAILED"
	}
	out := res.Output
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return fmt.Sprintf("%s: %s %s\n\n%s", verdict, command, res.status(), out), nil
}

// makeTestTarget finds a test target in a Makefile.
var makeTestTarget = regexp.MustCompile(`(?m)^test\s*:`)

// DetectTestCommand returns the command that runs the tests of the project
// at dir, judged from the files at its root, or "" when none is found.
// The first match wins: go.mod, package.json with a test script, pytest
// (pytest.ini, or a pyproject.toml, setup.cfg or tox.ini naming pytest),
// Cargo.toml, a Makefile with a test target.
func DetectTestCommand(dir string) string {
	has := func(name string) bool {
		fi, err := os.Stat(filepath.Join(dir, name))
		return err == nil && fi.Mode().IsRegular()
	}
	read := func(name string) []byte {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil
		}
		defer f.Close()
		data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
		return data
	}
	if has("go.mod") {
		return "go test ./..."
	}
	if data := read("package.json"); data != nil {
		var pkg struct {
			Scripts map[string]any `json:"scripts"`
		}
		if json.Unmarshal(data, &pkg) == nil {
			if s, ok := pkg.Scripts["test"].(string); ok && strings.TrimSpace(s) != "" {
				return "npm test"
			}
		}
	}
	if has("pytest.ini") || bytes.Contains(read("pyproject.toml"), []byte("pytest")) ||
		bytes.Contains(read("setup.cfg"), []byte("[tool:pytest]")) || bytes.Contains(read("tox.ini"), []byte("[pytest]")) {
		return "python3 -m pytest -q"
	}
	if has("Cargo.toml") {
		return "cargo test"
	}
	for _, name := range []string{"Makefile", "makefile", "GNUmakefile"} {
		if makeTestTarget.Match(read(name)) {
			return "make test"
		}
	}
	return ""
}
