// Package cli runs external coding CLIs as agents: Claude Code (claude),
// Codex (codex), opencode, Goose (goose) and Aider (aider), headless, one
// process per task execution.
//
// Each execution starts the CLI in the task's working directory, in its own
// process group, with stdin on /dev/null and a private HOME (and XDG and
// config directories) made for the execution under Config.ScratchDir and
// removed afterwards, so no CLI state leaks between tasks or from the
// node's user. The environment variables that keep each CLI offline and
// quiet are set (see /work/shared/CLI-AGENTS.md for why each is needed);
// Config.Env is applied last and wins, which is how a provider's base URL
// and key reach the CLI. The node's own environment is inherited.
//
// Claude Code, Codex and opencode print a JSON event stream that is parsed
// line by line into task events: assistant text becomes log lines of
// stream "assistant", tool calls become EventTool events with a
// coderclaw.ToolCall, token usage becomes EventUsage events with running
// totals, and the final answer becomes the task's output. Goose and Aider
// print plain text, logged line by line; their output is the tail of their
// stdout. A line that cannot be understood is logged as it came, never
// fatal.
//
// A run fails with an *Error carrying the CLI's own message when the CLI
// reports an error, exits non-zero, ends without a final event, or runs
// past Config.Timeout. When the context ends the whole process group is
// killed and Execute returns the context's error; when the CLI exits,
// whatever it left running in its process group is killed too.
//
// An Executor is safe for concurrent use; every Execute is independent.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
)

// Limits and defaults of the package.
const (
	// DefaultTimeout bounds one execution when Config.Timeout is zero.
	// Codex and opencode never give up on an unreachable model server, so
	// every execution has a bound.
	DefaultTimeout = 30 * time.Minute
	// WaitDelay bounds how long Execute waits for output pipes held open by
	// grandchildren after the CLI exited or was killed.
	WaitDelay = 2 * time.Second
	// MaxLine is the longest stdout line parsed; a longer one is dropped
	// with a log line saying so. JSON events carrying whole files are
	// long, so it is far above a terminal line.
	MaxLine = 8 << 20
	// MaxOutput is the most output kept for the task.
	MaxOutput = 64 << 10
	// maxLogLine bounds one logged line.
	maxLogLine = 16 << 10
	// maxEventOutput bounds the output kept in a tool event.
	maxEventOutput = 4 << 10
)

// Config configures the executor of one CLI. A zero field means its
// documented default.
type Config struct {
	// Kind is the CLI: claude, codex, opencode, goose or aider. Required.
	Kind string
	// Path is the CLI's binary; empty means the kind's command looked up
	// on PATH (claude, codex, opencode, goose, aider).
	Path string
	// Model is passed to the CLI as its model; empty means the CLI's own
	// default.
	Model string
	// Prompt is a system prompt (a role's); Claude Code gets it with
	// --append-system-prompt, the other CLIs before the task's prompt.
	Prompt string
	// Env adds variables to the CLI's environment after the package's own,
	// so it overrides them: a provider's base URL and key
	// (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, OPENAI_BASE_URL,
	// OPENAI_API_KEY), or the CLI's own settings. For codex and opencode
	// an OPENAI_BASE_URL (and for opencode an ANTHROPIC_BASE_URL) also
	// makes the generated config file point the CLI at that server.
	Env map[string]string
	// Args are extra arguments placed before the prompt.
	Args []string
	// Timeout bounds one execution; zero means DefaultTimeout.
	Timeout time.Duration
	// ScratchDir holds the private HOME of each execution; empty means
	// os.TempDir().
	ScratchDir string
	// Logger receives a debug line per execution; nil means discard.
	Logger *slog.Logger
}

// Executor runs tasks with one external CLI. Build it with New.
type Executor struct {
	cfg  Config
	kind Kind
	path string
	log  *slog.Logger
	now  func() time.Time
}

var _ agent.Executor = (*Executor)(nil)

// New returns the executor of cfg's CLI and the agent it offers. A CLI whose
// binary is missing is not an error: the agent is unavailable, its Reason
// says what to install, and the executor is nil. The error is for a bad
// configuration and names the field.
func New(cfg Config) (agent.Executor, coderclaw.Agent, error) {
	kind, ok := LookupKind(cfg.Kind)
	if !ok {
		return nil, coderclaw.Agent{}, fmt.Errorf("kind: unknown CLI %q (known: %s)", cfg.Kind, strings.Join(KindNames(), ", "))
	}
	if cfg.Timeout < 0 {
		return nil, coderclaw.Agent{}, fmt.Errorf("%s: timeout: must not be negative, got %s", kind.Name, cfg.Timeout)
	}
	for k := range cfg.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, coderclaw.Agent{}, fmt.Errorf("%s: env: invalid variable name %q", kind.Name, k)
		}
	}
	if err := kind.validateConfig(cfg); err != nil {
		return nil, coderclaw.Agent{}, fmt.Errorf("%s: %w", kind.Name, err)
	}
	info := coderclaw.Agent{
		ID:           kind.Name,
		Name:         kind.Title,
		Kind:         "cli",
		Description:  fmt.Sprintf("%s, the external coding CLI, run headless in the task's working directory.", kind.Title),
		Capabilities: []string{"code", "shell", "edit"},
	}
	path, err := resolve(kind, cfg.Path)
	if err != nil {
		info.Reason = err.Error()
		return nil, info, nil
	}
	info.Available = true
	info.Description = fmt.Sprintf("%s (%s), the external coding CLI, run headless in the task's working directory.", kind.Title, path)
	x := &Executor{
		cfg:  cfg,
		kind: kind,
		path: path,
		log:  cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:  time.Now,
	}
	return x, info, nil
}

// resolve finds the binary of a kind: the configured path, or its command
// on PATH. The error is the reason shown for an unavailable agent.
func resolve(kind Kind, configured string) (string, error) {
	if configured != "" {
		st, err := os.Stat(configured)
		switch {
		case err != nil:
			return "", fmt.Errorf("%s not found at %s (install %s)", kind.Command, configured, kind.Install)
		case st.IsDir() || st.Mode()&0o111 == 0:
			return "", fmt.Errorf("%s at %s is not an executable file", kind.Command, configured)
		}
		return configured, nil
	}
	path, err := exec.LookPath(kind.Command)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH (install %s)", kind.Command, kind.Install)
	}
	return path, nil
}

// Error is a CLI run that failed, with the CLI's own message.
type Error struct {
	// Kind is the CLI's kind.
	Kind string
	// Message is what the CLI said went wrong: its error result, its last
	// error event or its last line on stderr.
	Message string
	// ExitCode is the CLI's exit code; -1 when it was killed.
	ExitCode int
	// Timeout is the bound the run exceeded; zero when it did not.
	Timeout time.Duration
}

// Error names the CLI, how it ended and its message.
func (e *Error) Error() string {
	msg := cmp.Or(e.Message, "no error message")
	switch {
	case e.Timeout > 0:
		return fmt.Sprintf("%s timed out after %s: %s", e.Kind, e.Timeout, msg)
	case e.ExitCode != 0:
		return fmt.Sprintf("%s failed (exit code %d): %s", e.Kind, e.ExitCode, msg)
	default:
		return fmt.Sprintf("%s failed: %s", e.Kind, msg)
	}
}

// Execute runs the CLI on the task's prompt and reports what it does.
func (x *Executor) Execute(ctx context.Context, run agent.Run) (string, error) {
	task := run.Task()
	dir := run.Dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create working directory: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("working directory %s: %w", run.Dir(), err)
	}
	scratch := cmp.Or(x.cfg.ScratchDir, os.TempDir())
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	home, err := os.MkdirTemp(scratch, "coderclaw-"+x.kind.Name+"-")
	if err != nil {
		return "", fmt.Errorf("create private home for %s: %w", x.kind.Name, err)
	}
	defer func() {
		if err := os.RemoveAll(home); err != nil {
			x.log.Warn("remove private home of a CLI run", "dir", home, "err", err)
		}
	}()

	inv, err := x.kind.invocation(request{
		prompt: Prompt(task),
		system: x.cfg.Prompt,
		model:  x.cfg.Model,
		dir:    dir,
		home:   home,
		env:    x.cfg.Env,
		args:   x.cfg.Args,
	})
	if err != nil {
		return "", fmt.Errorf("prepare %s: %w", x.kind.Name, err)
	}
	timeout := cmp.Or(x.cfg.Timeout, DefaultTimeout)
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, x.path, inv.args...)
	cmd.Dir = dir
	cmd.Env = environ(inv.env, x.cfg.Env)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return terminate(cmd) }
	cmd.WaitDelay = WaitDelay
	// Stdin stays nil, which is /dev/null: a headless CLI must never wait
	// for a human on its terminal. Stdout and stderr are copied into pipes
	// of our own, which are closed once the CLI has exited: a grandchild
	// that still holds the CLI's outputs cannot keep the run open longer
	// than WaitDelay.
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	x.log.Debug("start CLI", "kind", x.kind.Name, "path", x.path, "dir", dir, "task", task.ID)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", x.path, err)
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		// What the CLI left running in its process group goes with it.
		_ = terminate(cmd)
		outW.Close()
		errW.Close()
		waited <- err
	}()

	p := x.kind.parser(sink{run: run, kind: x.kind.Name, model: x.cfg.Model, now: x.now})
	done := make(chan string, 1)
	go func() {
		var last string
		scanLines(errR, func(line string) {
			run.Log("stderr", clip(line, maxLogLine))
			if strings.TrimSpace(line) != "" {
				last = line
			}
		}, func(n int) { run.Log("stderr", fmt.Sprintf("[a line of %d bytes was dropped]", n)) })
		done <- last
	}()
	scanLines(outR, p.line, func(n int) {
		run.Log("stdout", fmt.Sprintf("[a line of %d bytes was dropped]", n))
	})
	lastErr := <-done
	waitErr := <-waited
	if err := ctx.Err(); err != nil {
		return "", err
	}
	exit := 0
	var ee *exec.ExitError
	switch {
	case waitErr == nil, errors.Is(waitErr, exec.ErrWaitDelay):
		// ErrWaitDelay: the CLI exited 0 but left its outputs open.
	case errors.As(waitErr, &ee):
		exit = ee.ExitCode()
	default:
		return "", fmt.Errorf("wait for %s: %w", x.kind.Name, waitErr)
	}
	out, err := p.finish(exit, lastErr)
	if err != nil && runCtx.Err() != nil {
		// Codex and opencode never give up on a dead model server: the
		// deadline is how such a run ends, and the last error it reported
		// says why.
		return "", &Error{Kind: x.kind.Name, ExitCode: -1, Timeout: timeout,
			Message: cmp.Or(p.lastError(), lastErr, "no error reported before the deadline")}
	}
	return clip(out, MaxOutput), err
}

// Prompt is the prompt a CLI gets for a task: its description, if any,
// then its input.
func Prompt(t coderclaw.Task) string {
	d, in := strings.TrimSpace(t.Description), strings.TrimSpace(t.Input)
	switch {
	case d == "":
		return in
	case in == "":
		return d
	default:
		return d + "\n\n" + in
	}
}

// environ is the node's environment with the kind's variables and then the
// configured ones added; later values win.
func environ(kind []string, cfg map[string]string) []string {
	env := append(os.Environ(), kind...)
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+cfg[k])
	}
	return dedupEnv(env)
}

// dedupEnv keeps the last value of every variable, in first-seen order.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}
