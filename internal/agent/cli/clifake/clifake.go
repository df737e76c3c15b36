// Package clifake plays the external coding CLIs (claude, codex, opencode,
// goose, aider) for tests, printing the event streams the real ones print
// (the shapes recorded in /work/shared/CLI-AGENTS.md) and doing what they
// do to the working directory.
//
// The fake is the test binary itself: Install links the running test
// binary into a directory under the CLIs' names, and the test package's
// TestMain hands over to Main when Active reports that the binary was
// started under one of those names:
//
//	func TestMain(m *testing.M) {
//		if clifake.Active() {
//			os.Exit(clifake.Main())
//		}
//		os.Exit(m.Run())
//	}
//
// What the fake does is chosen by the environment variable EnvScenario
// (Success when unset); see the Scenario constants. With EnvRecord set it
// first writes a Record of how it was started to that file. The package has
// no state; Main reads only its arguments, environment and working
// directory.
package clifake

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Environment variables the fake reads.
const (
	// EnvScenario names the Scenario to play.
	EnvScenario = "CLIFAKE_SCENARIO"
	// EnvRecord names a file the fake writes its Record to, as JSON.
	EnvRecord = "CLIFAKE_RECORD"
	// EnvPIDFile names the file the grandchild of the Hang scenario writes
	// its pid to.
	EnvPIDFile = "CLIFAKE_PIDFILE"
)

// Scenarios the fake plays.
const (
	// Success writes HELLO.md (content HelloContent) in the working
	// directory through one tool call, says Done and exits 0.
	Success = "success"
	// Fail reports the CLI's error (FailMessage) its own way and exits 1.
	Fail = "fail"
	// Garbage prints lines no CLI prints (not JSON, unknown types, wrong
	// shapes, a very long line), then plays Success.
	Garbage = "garbage"
	// Hang starts a grandchild that writes its pid to EnvPIDFile and
	// sleeps, prints one assistant line (Working), then sleeps forever.
	Hang = "hang"
	// Linger starts a grandchild that writes its pid to EnvPIDFile, keeps
	// the fake's stdout open and sleeps, then plays Success and exits.
	Linger = "linger"
	// Reconnect reports a connection error (ReconnectMessage) the way the
	// CLI does while it retries, then sleeps forever.
	Reconnect = "reconnect"
)

// What the fake says.
const (
	HelloFile        = "HELLO.md"
	HelloContent     = "hello from the model\n"
	Done             = "done: wrote HELLO.md"
	Working          = "working on it"
	FailMessage      = "API Error: Unable to connect to API (ConnectionRefused)"
	ReconnectMessage = "Reconnecting... 2/5 (stream disconnected before completion: error sending request)"
)

// Names are the CLIs the fake plays.
func Names() []string { return []string{"aider", "claude", "codex", "goose", "opencode"} }

// Versions is what each fake prints for --version.
func Versions() map[string]string {
	return map[string]string{
		"claude":   "2.1.197 (Claude Code)",
		"codex":    "codex-cli 0.169.0",
		"opencode": "1.18.33",
		"goose":    "1.9.0",
		"aider":    "aider 0.86.1",
	}
}

// Record is how the fake was started.
type Record struct {
	Name string            `json:"name"`
	Args []string          `json:"args"`
	Dir  string            `json:"dir"`
	Env  map[string]string `json:"env"`
	// StdinNull reports whether stdin was /dev/null.
	StdinNull bool `json:"stdin_null"`
	// Files holds the config files the CLI was given: "codex" is
	// $CODEX_HOME/config.toml, "opencode" is $OPENCODE_CONFIG.
	Files map[string]string `json:"files,omitempty"`
}

// ReadRecord reads the record the fake wrote to path.
func ReadRecord(t testing.TB, path string) Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the fake's record: %v", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode the fake's record: %v", err)
	}
	return r
}

// Install links the running test binary into a new temporary directory
// under each name (all of Names when none is given) and returns the
// directory.
func Install(t testing.TB, names ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("clifake: find the test binary: %v", err)
	}
	if len(names) == 0 {
		names = Names()
	}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
			t.Fatalf("clifake: install %s: %v", n, err)
		}
	}
	return dir
}

// Active reports whether this process was started as one of the fakes.
func Active() bool { return slices.Contains(Names(), filepath.Base(os.Args[0])) }

// Main plays the fake named by os.Args[0] and returns its exit code.
func Main() int {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if slices.Contains(args, "--version") {
		fmt.Println(Versions()[name])
		return 0
	}
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: getwd: %v\n", name, err)
		return 2
	}
	if path := os.Getenv(EnvRecord); path != "" {
		if err := record(path, name, args, dir); err != nil {
			fmt.Fprintf(os.Stderr, "%s: record: %v\n", name, err)
			return 2
		}
	}
	f := &fake{name: name, dir: dir, out: bufio.NewWriter(os.Stdout)}
	defer f.out.Flush()
	scenario := os.Getenv(EnvScenario)
	switch scenario {
	case "", Success:
		return f.success()
	case Garbage:
		f.garbage()
		return f.success()
	case Fail:
		return f.fail()
	case Hang:
		return f.hang()
	case Linger:
		if code := f.grandchild(true); code != 0 {
			return code
		}
		return f.success()
	case Reconnect:
		f.reconnect()
		f.out.Flush()
		time.Sleep(time.Hour)
		return 3
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown %s %q\n", name, EnvScenario, scenario)
		return 2
	}
}

func record(path, name string, args []string, dir string) error {
	r := Record{Name: name, Args: args, Dir: dir, Env: map[string]string{}, Files: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
	}
	if in, err := os.Stdin.Stat(); err == nil {
		if null, err := os.Stat(os.DevNull); err == nil {
			r.StdinNull = os.SameFile(in, null)
		}
	}
	if h := os.Getenv("CODEX_HOME"); h != "" {
		if b, err := os.ReadFile(filepath.Join(h, "config.toml")); err == nil {
			r.Files["codex"] = string(b)
		}
	}
	if p := os.Getenv("OPENCODE_CONFIG"); p != "" {
		if b, err := os.ReadFile(p); err == nil {
			r.Files["opencode"] = string(b)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

type fake struct {
	name string
	dir  string
	out  *bufio.Writer
}

// emit prints one JSON line.
func (f *fake) emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	f.out.Write(b)
	f.out.WriteByte('\n')
}

func (f *fake) println(s string) {
	f.out.WriteString(s)
	f.out.WriteByte('\n')
}

func (f *fake) write() error {
	f.out.Flush()
	return os.WriteFile(filepath.Join(f.dir, HelloFile), []byte(HelloContent), 0o644)
}

type obj = map[string]any

const session = "55cd2a1e-7c5b-4d3e-9f00-0a1b2c3d4e5f"

func (f *fake) claudeInit() {
	f.emit(obj{"type": "system", "subtype": "init", "cwd": f.dir, "session_id": session,
		"tools": []string{"Task", "Bash", "Edit", "Read", "Write"}, "model": "claude-opus-4-8[1m]",
		"permissionMode": "bypassPermissions", "apiKeySource": "ANTHROPIC_API_KEY", "claude_code_version": "2.1.197"})
}

func claudeAssistant(id string, content ...obj) obj {
	return obj{"type": "assistant", "message": obj{"id": id, "type": "message", "role": "assistant",
		"model": "claude-opus-4-8", "content": content, "stop_reason": nil,
		"usage": obj{"input_tokens": 10, "output_tokens": 5}}, "parent_tool_use_id": nil, "session_id": session}
}

func (f *fake) success() int {
	path := filepath.Join(f.dir, HelloFile)
	switch f.name {
	case "claude":
		f.claudeInit()
		f.emit(claudeAssistant("msg_01", obj{"type": "text", "text": "I will create HELLO.md."}))
		f.emit(claudeAssistant("msg_01", obj{"type": "tool_use", "id": "toolu_01", "name": "Write",
			"input": obj{"file_path": path, "content": HelloContent}}))
		if err := f.write(); err != nil {
			return f.die(err)
		}
		f.emit(obj{"type": "user", "message": obj{"role": "user", "content": []obj{{"tool_use_id": "toolu_01",
			"type": "tool_result", "content": "File created successfully at: " + path}}},
			"parent_tool_use_id": nil, "session_id": session,
			"tool_use_result": obj{"type": "create", "filePath": path, "content": HelloContent}})
		f.emit(claudeAssistant("msg_02", obj{"type": "text", "text": Done}))
		f.emit(obj{"type": "result", "subtype": "success", "is_error": false, "duration_ms": 700, "num_turns": 2,
			"result": Done, "stop_reason": "end_turn", "session_id": session, "total_cost_usd": 0.00035,
			"usage":              obj{"input_tokens": 20, "cache_creation_input_tokens": 4, "cache_read_input_tokens": 6, "output_tokens": 10},
			"permission_denials": []obj{}, "terminal_reason": "completed"})
	case "codex":
		cmd := `/bin/bash -lc "printf 'hello from the model\n' > HELLO.md"`
		f.emit(obj{"type": "thread.started", "thread_id": "01a2b3c4-0000-7000-8000-000000000001"})
		f.emit(obj{"type": "turn.started"})
		f.emit(obj{"type": "item.completed", "item": obj{"id": "item_0", "type": "error",
			"message": "Model metadata for `fake-model` not found"}})
		f.emit(obj{"type": "item.started", "item": obj{"id": "item_1", "type": "command_execution", "command": cmd,
			"aggregated_output": "", "exit_code": nil, "status": "in_progress"}})
		if err := f.write(); err != nil {
			return f.die(err)
		}
		f.emit(obj{"type": "item.completed", "item": obj{"id": "item_1", "type": "command_execution", "command": cmd,
			"aggregated_output": "", "exit_code": 0, "status": "completed"}})
		f.emit(obj{"type": "item.completed", "item": obj{"id": "item_2", "type": "file_change",
			"changes": []obj{{"path": path, "kind": "add"}}, "status": "completed"}})
		f.emit(obj{"type": "item.completed", "item": obj{"id": "item_3", "type": "agent_message", "text": Done}})
		f.emit(obj{"type": "turn.completed", "usage": obj{"input_tokens": 20, "cached_input_tokens": 0,
			"output_tokens": 10, "reasoning_output_tokens": 0}})
	case "opencode":
		f.opencodeStep()
		f.emit(f.opencode("tool_use", obj{"id": "prt_2", "type": "tool", "tool": "write", "callID": "call_1",
			"state": obj{"status": "completed", "input": obj{"filePath": HelloFile, "content": HelloContent},
				"output": "Wrote file successfully.", "metadata": obj{"filepath": path, "exists": false},
				"title": HelloFile, "time": obj{"start": 1763800000000, "end": 1763800000012}}}))
		if err := f.write(); err != nil {
			return f.die(err)
		}
		f.emit(f.opencode("step_finish", obj{"type": "step-finish", "reason": "tool-calls",
			"tokens": obj{"total": 15, "input": 10, "output": 5, "reasoning": 0, "cache": obj{"write": 0, "read": 0}}, "cost": 0.001}))
		f.opencodeStep()
		f.emit(f.opencode("text", obj{"type": "text", "text": Done, "time": obj{"start": 1763800000100, "end": 1763800000100}}))
		f.emit(f.opencode("step_finish", obj{"type": "step-finish", "reason": "stop",
			"tokens": obj{"total": 15, "input": 10, "output": 5, "reasoning": 0, "cache": obj{"write": 0, "read": 0}}, "cost": 0.001}))
	default: // goose, aider: plain text
		f.println("starting session | provider: openai model: fake-model")
		f.println("I will create HELLO.md.")
		if err := f.write(); err != nil {
			return f.die(err)
		}
		f.println("Wrote " + HelloFile)
		f.println(Done)
	}
	return 0
}

func (f *fake) opencode(typ string, part obj) obj {
	return obj{"type": typ, "timestamp": 1763800000000, "sessionID": "ses_fake1", "part": part}
}

func (f *fake) opencodeStep() {
	f.emit(f.opencode("step_start", obj{"id": "prt_1", "type": "step-start", "snapshot": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}))
}

func (f *fake) fail() int {
	switch f.name {
	case "claude":
		f.claudeInit()
		f.emit(obj{"type": "result", "subtype": "success", "is_error": true, "duration_ms": 12, "num_turns": 1,
			"result": FailMessage, "session_id": session, "total_cost_usd": 0,
			"usage": obj{"input_tokens": 0, "output_tokens": 0}, "permission_denials": []obj{}})
	case "codex":
		f.emit(obj{"type": "thread.started", "thread_id": "01a2b3c4-0000-7000-8000-000000000001"})
		f.emit(obj{"type": "turn.started"})
		f.emit(obj{"type": "error", "message": ReconnectMessage})
		f.emit(obj{"type": "turn.failed", "error": obj{"message": FailMessage}})
	case "opencode":
		f.opencodeStep()
		f.emit(obj{"type": "error", "timestamp": 1763800000000, "sessionID": "ses_fake1",
			"error": obj{"name": "APIError", "data": obj{"message": FailMessage, "statusCode": 503}}})
	default:
		f.println("starting session | provider: openai model: fake-model")
		f.out.Flush()
		fmt.Fprintln(os.Stderr, "Error: "+FailMessage)
	}
	return 1
}

func (f *fake) reconnect() {
	switch f.name {
	case "claude":
		f.claudeInit()
		f.emit(obj{"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 10,
			"retry_delay_ms": 623, "error_status": nil, "error": ReconnectMessage, "session_id": session})
	case "codex":
		f.emit(obj{"type": "thread.started", "thread_id": "01a2b3c4-0000-7000-8000-000000000001"})
		f.emit(obj{"type": "turn.started"})
		f.emit(obj{"type": "error", "message": ReconnectMessage})
	default:
		// opencode, goose and aider wait silently.
	}
}

// grandchild starts a process in the fake's process group that writes its
// pid to EnvPIDFile and sleeps; with holdStdout it keeps the fake's stdout
// open. It returns once the pid is written.
func (f *fake) grandchild(holdStdout bool) int {
	if os.Getenv(EnvPIDFile) == "" {
		return f.die(fmt.Errorf("%s is not set", EnvPIDFile))
	}
	gc := exec.Command("/bin/sh", "-c", `echo $$ > "$CLIFAKE_PIDFILE.tmp" && mv "$CLIFAKE_PIDFILE.tmp" "$CLIFAKE_PIDFILE" && echo ready >&2 && exec sleep 3600`)
	if holdStdout {
		f.out.Flush()
		gc.Stdout = os.Stdout
	}
	ready, err := gc.StderrPipe()
	if err != nil {
		return f.die(err)
	}
	if err := gc.Start(); err != nil {
		return f.die(err)
	}
	if line, err := bufio.NewReader(ready).ReadString('\n'); err != nil || line != "ready\n" {
		return f.die(fmt.Errorf("grandchild said %q: %v", line, err))
	}
	return 0
}

// hang starts a grandchild, says Working once its pid is written, and
// sleeps.
func (f *fake) hang() int {
	if code := f.grandchild(false); code != 0 {
		return code
	}
	switch f.name {
	case "claude":
		f.claudeInit()
		f.emit(claudeAssistant("msg_01", obj{"type": "text", "text": Working}))
	case "codex":
		f.emit(obj{"type": "thread.started", "thread_id": "01a2b3c4-0000-7000-8000-000000000001"})
		f.emit(obj{"type": "item.completed", "item": obj{"id": "item_0", "type": "agent_message", "text": Working}})
	case "opencode":
		f.opencodeStep()
		f.emit(f.opencode("text", obj{"type": "text", "text": Working}))
	default:
		f.println(Working)
	}
	f.out.Flush()
	time.Sleep(time.Hour)
	return 3
}

func (f *fake) garbage() {
	for _, l := range []string{
		"not json at all",
		"{",
		`{"type":"mystery","payload":[1,2,3]}`,
		`null`,
		`[1,2,3]`,
		`"a string"`,
		`{"type":42}`,
		`{"type":"assistant","message":{"content":"a string, not blocks"}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_unknown","content":[{"type":"text","text":"orphan"}]}]}}`,
		`{"type":"item.completed","item":null}`,
		`{"type":"tool_use","part":{"type":"tool","state":{"status":"error","error":"boom"}}}`,
		"\x00\xff\xfe binary",
		strings.Repeat("x", 100<<10),
	} {
		f.println(l)
	}
}

func (f *fake) die(err error) int {
	f.out.Flush()
	fmt.Fprintf(os.Stderr, "%s: %v\n", f.name, err)
	return 2
}
