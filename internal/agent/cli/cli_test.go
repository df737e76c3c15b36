package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent/cli/clifake"
)

// fixture is an executor of one fake CLI and where it records.
type fixture struct {
	x       *Executor
	info    coderclaw.Agent
	record  string
	scratch string
}

// newFixture builds the executor of a fake kind playing scenario; env is
// added to its Config.Env.
func newFixture(t *testing.T, kind, scenario string, mod func(*Config)) fixture {
	t.Helper()
	dir := clifake.Install(t, kind)
	tmp := t.TempDir()
	f := fixture{record: filepath.Join(tmp, "record.json"), scratch: filepath.Join(tmp, "scratch")}
	cfg := Config{
		Kind:       kind,
		Path:       filepath.Join(dir, kind),
		Model:      "fake-model",
		ScratchDir: f.scratch,
		Env: map[string]string{
			clifake.EnvScenario: scenario,
			clifake.EnvRecord:   f.record,
			"CODERCLAW_TEST":    "from-config",
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	ex, info, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", kind, err)
	}
	if !info.Available {
		t.Fatalf("New(%s): unavailable: %s", kind, info.Reason)
	}
	f.x, f.info = ex.(*Executor), info
	return f
}

// TestHappyPath runs every kind's fake through a success: the file is
// written in the task's directory, the output is the CLI's final answer,
// and the stream became the documented events.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	type want struct {
		tools []string // skills, in order
		usage coderclaw.Usage
		nUse  int
	}
	cases := map[string]want{
		"claude": {tools: []string{"Write"}, nUse: 1,
			usage: coderclaw.Usage{Model: "claude-opus-4-8[1m]", Steps: 2, InputTokens: 30, OutputTokens: 10, CostUSD: 0.00035}},
		"codex": {tools: []string{"command_execution", "file_change"}, nUse: 1,
			usage: coderclaw.Usage{Model: "fake-model", Steps: 1, InputTokens: 20, OutputTokens: 10}},
		"opencode": {tools: []string{"write"}, nUse: 2,
			usage: coderclaw.Usage{Model: "fake-model", Steps: 2, InputTokens: 20, OutputTokens: 10, CostUSD: 0.002}},
		"goose": {},
		"aider": {},
	}
	for kind, w := range cases {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, clifake.Success, nil)
			run := newTestRun(t, "Create HELLO.md")
			out, err := f.x.Execute(context.Background(), run)
			if err != nil {
				run.dump(t)
				t.Fatalf("Execute: %v", err)
			}
			if !strings.HasSuffix(out, clifake.Done) {
				t.Errorf("output = %q, want it to end with %q", out, clifake.Done)
			}
			b, err := os.ReadFile(filepath.Join(run.dir, clifake.HelloFile))
			if err != nil || string(b) != clifake.HelloContent {
				t.Errorf("%s = %q, %v; want %q", clifake.HelloFile, b, err, clifake.HelloContent)
			}
			if !run.logged("assistant", clifake.Done) {
				run.dump(t)
				t.Errorf("no assistant log line with %q", clifake.Done)
			}
			var skills []string
			for _, c := range run.tools() {
				skills = append(skills, c.Skill)
				if c.Error != "" {
					t.Errorf("tool %s failed: %s", c.Skill, c.Error)
				}
			}
			if !slices.Equal(skills, w.tools) {
				t.Errorf("tool events = %q, want %q", skills, w.tools)
			}
			u, n := run.usage()
			if n != w.nUse || u != w.usage {
				t.Errorf("usage events = %d, last %+v; want %d, last %+v", n, u, w.nUse, w.usage)
			}

			rec := clifake.ReadRecord(t, f.record)
			if rec.Dir != run.dir || rec.Env["PWD"] != run.dir {
				t.Errorf("ran in %s with PWD %s, want the task's directory %s", rec.Dir, rec.Env["PWD"], run.dir)
			}
			if !rec.StdinNull {
				t.Error("stdin is not /dev/null")
			}
			if rec.Env["CODERCLAW_TEST"] != "from-config" {
				t.Errorf("Config.Env did not reach the CLI: %q", rec.Env["CODERCLAW_TEST"])
			}
			home := rec.Env["HOME"]
			if filepath.Dir(home) != f.scratch {
				t.Errorf("HOME = %s, want a private directory under %s", home, f.scratch)
			}
			if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("private HOME %s left behind: %v", home, err)
			}
			if got := rec.Args[len(rec.Args)-1]; got != "Create HELLO.md" {
				t.Errorf("last argument = %q, want the prompt", got)
			}
		})
	}
}

// TestInvocation checks the arguments and environment each kind is given
// to run headless and offline.
func TestInvocation(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		env  []string
	}{
		"claude": {
			args: []string{"-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "bypassPermissions", "--model", "fake-model"},
			env:  []string{"DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1", "DISABLE_ERROR_REPORTING=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"},
		},
		"codex": {
			args: []string{"exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--model", "fake-model"},
		},
		"opencode": {
			args: []string{"run", "--format", "json"},
			env: []string{"OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1",
				"OPENCODE_DISABLE_LSP_DOWNLOAD=1", "OPENCODE_DISABLE_SHARE=1", "OPENCODE_PURE=1", "npm_config_registry=http://127.0.0.1:9/"},
		},
		"goose": {args: []string{"run", "-t"}, env: []string{"GOOSE_MODE=auto", "GOOSE_DISABLE_KEYRING=1", "GOOSE_MODEL=fake-model"}},
		"aider": {args: []string{"--yes-always", "--no-stream", "--no-auto-commits", "--model", "fake-model", "--message"}},
	}
	for kind, c := range cases {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, clifake.Success, func(c *Config) { c.Args = []string{"--extra", "x"} })
			run := newTestRun(t, "Create HELLO.md")
			if _, err := f.x.Execute(context.Background(), run); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			rec := clifake.ReadRecord(t, f.record)
			for _, a := range append(c.args, "--extra") {
				if !slices.Contains(rec.Args, a) {
					t.Errorf("argument %q missing from %q", a, rec.Args)
				}
			}
			for _, kv := range c.env {
				k, v, _ := strings.Cut(kv, "=")
				if rec.Env[k] != v {
					t.Errorf("%s = %q, want %q", k, rec.Env[k], v)
				}
			}
			for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"} {
				if !strings.HasPrefix(rec.Env[k], rec.Env["HOME"]+"/") {
					t.Errorf("%s = %s, want it under HOME %s", k, rec.Env[k], rec.Env["HOME"])
				}
			}
		})
	}
}

// TestProviderConfig: a configured OpenAI-compatible server reaches the
// config files Codex and opencode are given, and the key variable they
// name is set.
func TestProviderConfig(t *testing.T) {
	t.Parallel()
	const base = "http://127.0.0.1:4321/v1"
	env := func(c *Config) { c.Env["OPENAI_BASE_URL"] = base }

	t.Run("codex", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "codex", clifake.Success, env)
		if _, err := f.x.Execute(context.Background(), newTestRun(t, "hi")); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		rec := clifake.ReadRecord(t, f.record)
		conf := rec.Files["codex"]
		for _, s := range []string{`model_provider = "coderclaw"`, `base_url = "` + base + `"`, `wire_api = "responses"`,
			`env_key = "OPENAI_API_KEY"`, "[analytics]\nenabled = false", "plugins = false"} {
			if !strings.Contains(conf, s) {
				t.Errorf("config.toml lacks %q:\n%s", s, conf)
			}
		}
		if strings.Index(conf, "model_provider") > strings.Index(conf, "[") {
			t.Errorf("model_provider must come before the first table:\n%s", conf)
		}
		if rec.Env["CODEX_HOME"] != filepath.Join(rec.Env["HOME"], ".codex") {
			t.Errorf("CODEX_HOME = %s", rec.Env["CODEX_HOME"])
		}
		if _, inherited := os.LookupEnv("OPENAI_API_KEY"); !inherited && rec.Env["OPENAI_API_KEY"] == "" {
			t.Error("OPENAI_API_KEY not set for the provider's env_key")
		}
	})
	t.Run("opencode", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "opencode", clifake.Success, env)
		if _, err := f.x.Execute(context.Background(), newTestRun(t, "hi")); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		rec := clifake.ReadRecord(t, f.record)
		conf := rec.Files["opencode"]
		for _, s := range []string{`"model": "coderclaw/fake-model"`, `"baseURL": "` + base + `"`, `"npm": "@ai-sdk/openai-compatible"`,
			`"apiKey": "{env:OPENAI_API_KEY}"`, `"edit": "allow"`, `"autoupdate": false`} {
			if !strings.Contains(conf, s) {
				t.Errorf("opencode.json lacks %q:\n%s", s, conf)
			}
		}
	})
	t.Run("opencode-anthropic", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "opencode", clifake.Success, func(c *Config) {
			c.Env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:4321"
			c.Model = "claude-sonnet-4-5"
		})
		if _, err := f.x.Execute(context.Background(), newTestRun(t, "hi")); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		conf := clifake.ReadRecord(t, f.record).Files["opencode"]
		for _, s := range []string{`"model": "anthropic/claude-sonnet-4-5"`, `"baseURL": "http://127.0.0.1:4321/v1"`} {
			if !strings.Contains(conf, s) {
				t.Errorf("opencode.json lacks %q:\n%s", s, conf)
			}
		}
	})
}

// TestPrompt: the prompt is the task's description and input, a system
// prompt goes where the CLI takes one, and a prompt that looks like an
// option is not read as one.
func TestPrompt(t *testing.T) {
	t.Parallel()
	if got := Prompt(coderclaw.Task{Description: "Fix the bug", Input: "in main.go"}); got != "Fix the bug\n\nin main.go" {
		t.Errorf("Prompt = %q", got)
	}
	if got := Prompt(coderclaw.Task{Input: "  just input \n"}); got != "just input" {
		t.Errorf("Prompt = %q", got)
	}

	t.Run("claude", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "claude", clifake.Success, func(c *Config) { c.Prompt = "You review code." })
		if _, err := f.x.Execute(context.Background(), newTestRun(t, "--help")); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		args := clifake.ReadRecord(t, f.record).Args
		i := slices.Index(args, "--append-system-prompt")
		if i < 0 || args[i+1] != "You review code." {
			t.Errorf("system prompt not passed: %q", args)
		}
		if last := args[len(args)-1]; last != " --help" {
			t.Errorf("prompt argument = %q, want it kept from reading as an option", last)
		}
	})
	t.Run("codex", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "codex", clifake.Success, func(c *Config) { c.Prompt = "You review code." })
		if _, err := f.x.Execute(context.Background(), newTestRun(t, "Review it")); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		args := clifake.ReadRecord(t, f.record).Args
		if last := args[len(args)-1]; last != "You review code.\n\nReview it" {
			t.Errorf("prompt argument = %q, want the system prompt first", last)
		}
	})
}

// TestFailure: an error the CLI reports fails the task with the CLI's own
// message and exit code.
func TestFailure(t *testing.T) {
	t.Parallel()
	for _, kind := range KindNames() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, clifake.Fail, nil)
			run := newTestRun(t, "Create HELLO.md")
			out, err := f.x.Execute(context.Background(), run)
			var ce *Error
			if !errors.As(err, &ce) {
				run.dump(t)
				t.Fatalf("Execute = %q, %v; want an *Error", out, err)
			}
			if !strings.Contains(ce.Message, clifake.FailMessage) || ce.ExitCode != 1 || ce.Kind != kind {
				t.Errorf("error = %+v, want %s's message %q and exit code 1", ce, kind, clifake.FailMessage)
			}
			if !strings.Contains(err.Error(), clifake.FailMessage) {
				t.Errorf("error text %q lacks the CLI's message", err)
			}
			if out != "" {
				t.Errorf("output = %q, want none", out)
			}
		})
	}
}

// TestGarbage: lines no CLI should print are logged as they came, and the
// run still succeeds.
func TestGarbage(t *testing.T) {
	t.Parallel()
	for _, kind := range KindNames() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, clifake.Garbage, nil)
			run := newTestRun(t, "Create HELLO.md")
			out, err := f.x.Execute(context.Background(), run)
			if err != nil {
				run.dump(t)
				t.Fatalf("Execute: %v", err)
			}
			if !strings.HasSuffix(out, clifake.Done) {
				t.Errorf("output = %q", out)
			}
			stream := "stdout"
			if !f.x.kind.Stream {
				stream = "assistant"
			}
			for _, s := range []string{"not json at all", `{"type":"mystery"`} {
				if !run.logged(stream, s) {
					t.Errorf("garbage line %q not logged on %s", s, stream)
				}
			}
		})
	}
}

// TestCancel: cancelling the context kills the CLI's whole process group,
// grandchildren included, and Execute returns the context's error.
func TestCancel(t *testing.T) {
	t.Parallel()
	for _, kind := range KindNames() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			f := newFixture(t, kind, clifake.Hang, func(c *Config) { c.Env[clifake.EnvPIDFile] = pidFile })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			run := newTestRun(t, "Create HELLO.md")
			run.onLog = func(stream, line string) {
				if stream == "assistant" && line == clifake.Working {
					cancel()
				}
			}
			_, err := f.x.Execute(ctx, run)
			if !errors.Is(err, context.Canceled) {
				run.dump(t)
				t.Fatalf("Execute = %v, want context.Canceled", err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("the grandchild wrote no pid: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			waitGone(t, pid)
		})
	}
}

// TestLinger: a CLI that exits leaving a process that holds its stdout
// open still completes, and the process is killed with its group.
func TestLinger(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"claude", "aider"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			f := newFixture(t, kind, clifake.Linger, func(c *Config) {
				c.Env[clifake.EnvPIDFile] = pidFile
				// Without the pipes closed at exit, the run would last
				// until this bound and fail.
				c.Timeout = time.Minute
			})
			run := newTestRun(t, "Create HELLO.md")
			out, err := f.x.Execute(context.Background(), run)
			if err != nil || !strings.HasSuffix(out, clifake.Done) {
				run.dump(t)
				t.Fatalf("Execute = %q, %v", out, err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("the grandchild wrote no pid: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone fails the test unless process pid is gone (or a zombie waiting
// for init to reap it) within a generous bound: SIGKILL is delivered
// asynchronously, so the bound is for a hung test, not a measurement.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if st, rerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); rerr == nil {
			// The state follows the command name in parentheses.
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d outlived the run: kill(pid, 0) = %v", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTimeout: a CLI that never gives up is killed at Config.Timeout, and
// the error says so with the last error it reported.
func TestTimeout(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"codex":    clifake.ReconnectMessage,
		"claude":   clifake.ReconnectMessage,
		"opencode": "no error reported before the deadline",
	}
	for kind, msg := range cases {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, clifake.Reconnect, func(c *Config) { c.Timeout = 300 * time.Millisecond })
			run := newTestRun(t, "Create HELLO.md")
			_, err := f.x.Execute(context.Background(), run)
			var ce *Error
			if !errors.As(err, &ce) || ce.Timeout != 300*time.Millisecond {
				run.dump(t)
				t.Fatalf("Execute = %v, want a timeout *Error", err)
			}
			if !strings.Contains(ce.Message, msg) || !strings.Contains(err.Error(), "timed out after 300ms") {
				t.Errorf("error = %q, want it to say it timed out and %q", err, msg)
			}
		})
	}
}

// TestUnavailable: a missing binary makes the agent unavailable with what
// to install, never an error.
func TestUnavailable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	want := map[string]string{
		"claude":   "claude not found on PATH (install @anthropic-ai/claude-code)",
		"codex":    "codex not found on PATH (install @openai/codex)",
		"opencode": "opencode not found on PATH (install opencode-ai)",
		"goose":    "goose not found on PATH (install goose from github.com/block/goose releases)",
		"aider":    "aider not found on PATH (install aider-chat with pip or pipx)",
	}
	for kind, reason := range want {
		ex, info, err := New(Config{Kind: kind})
		if err != nil || ex != nil || info.Available || info.Reason != reason {
			t.Errorf("New(%s) = %v, %+v, %v; want unavailable with reason %q", kind, ex, info, err, reason)
		}
	}
	missing := filepath.Join(t.TempDir(), "claude")
	_, info, err := New(Config{Kind: "claude", Path: missing})
	if err != nil || info.Available || !strings.Contains(info.Reason, missing) {
		t.Errorf("New with a missing path = %+v, %v; want unavailable naming %s", info, err, missing)
	}
	notExec := filepath.Join(t.TempDir(), "claude")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, info, _ := New(Config{Kind: "claude", Path: notExec}); info.Available || !strings.Contains(info.Reason, "not an executable") {
		t.Errorf("New with a non-executable path = %+v", info)
	}
}

// TestLookPath: without a configured path the kind's command is found on
// PATH.
func TestLookPath(t *testing.T) {
	dir := clifake.Install(t, "codex")
	t.Setenv("PATH", dir)
	ex, info, err := New(Config{Kind: "codex"})
	if err != nil || ex == nil || !info.Available || info.Kind != "cli" || info.Name != "Codex" {
		t.Fatalf("New = %v, %+v, %v", ex, info, err)
	}
	if !strings.Contains(info.Description, filepath.Join(dir, "codex")) {
		t.Errorf("description %q does not name the binary", info.Description)
	}
}

// TestNewErrors: a bad configuration is an error naming the field.
func TestNewErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: "cursor"}, `kind: unknown CLI "cursor"`},
		{Config{}, `kind: unknown CLI ""`},
		{Config{Kind: "claude", Timeout: -time.Second}, "timeout: must not be negative"},
		{Config{Kind: "claude", Env: map[string]string{"A=B": "c"}}, "env: invalid variable name"},
		{Config{Kind: "opencode", Env: map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}}, "model: required with OPENAI_BASE_URL"},
	}
	for _, c := range cases {
		if _, _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}

// TestDetect reads each CLI's version.
func TestDetect(t *testing.T) {
	t.Parallel()
	dir := clifake.Install(t)
	for kind, v := range clifake.Versions() {
		got, err := Detect(context.Background(), Config{Kind: kind, Path: filepath.Join(dir, kind)})
		if err != nil || got != v {
			t.Errorf("Detect(%s) = %q, %v; want %q", kind, got, err, v)
		}
	}
	if _, err := Detect(context.Background(), Config{Kind: "claude", Path: filepath.Join(dir, "nothing")}); err == nil {
		t.Error("Detect of a missing binary succeeded")
	}
}

// TestScanLines: lines come whole however long, up to MaxLine; a longer
// one is dropped and reported; a last line without a newline counts.
func TestScanLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 200<<10)
	huge := strings.Repeat("b", MaxLine+1)
	in := "one\r\n" + long + "\n" + huge + "\n\nlast"
	var got []string
	var dropped []int
	scanLines(strings.NewReader(in), func(s string) { got = append(got, s) }, func(n int) { dropped = append(dropped, n) })
	want := []string{"one", long, "", "last"}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %d %.20q, want %d %.20q", len(got), got, len(want), want)
	}
	if !slices.Equal(dropped, []int{MaxLine + 2}) {
		t.Errorf("dropped = %v, want one line of %d bytes", dropped, MaxLine+2)
	}
}
