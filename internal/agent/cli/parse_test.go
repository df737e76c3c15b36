package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// parse feeds lines to a kind's parser and returns how the run ended.
func parse(t testing.TB, kind string, lines string, exit int, stderr string) (*testRun, string, error) {
	k, ok := LookupKind(kind)
	if !ok {
		t.Fatalf("no kind %s", kind)
	}
	run := &testRun{}
	clock := time.Unix(1_700_000_000, 0)
	p := k.parser(sink{run: run, kind: kind, model: "m", now: func() time.Time {
		clock = clock.Add(5 * time.Millisecond)
		return clock
	}})
	for l := range strings.SplitSeq(lines, "\n") {
		p.line(l)
	}
	out, err := p.finish(exit, stderr)
	return run, out, err
}

// TestParseOutcome covers the ways each stream says how a run ended.
func TestParseOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, kind, lines string
		exit              int
		stderr            string
		out, err          string // err: a substring of the error; "" for success
	}{
		{name: "claude success", kind: "claude",
			lines: `{"type":"result","subtype":"success","is_error":false,"result":"done"}`, out: "done"},
		{name: "claude is_error with subtype success", kind: "claude", exit: 1,
			lines: `{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401 invalid x-api-key"}`,
			err:   "claude failed (exit code 1): API Error: 401 invalid x-api-key"},
		{name: "claude error subtype", kind: "claude",
			lines: `{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":3}`, err: "error_max_turns"},
		{name: "claude error list", kind: "claude", exit: 1,
			lines: `{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["disk full","then some"]}`,
			err:   "disk full; then some"},
		{name: "claude success but exit 1", kind: "claude", exit: 1, stderr: "segfault",
			lines: `{"type":"result","subtype":"success","is_error":false,"result":"done"}`, err: "segfault"},
		{name: "claude no result", kind: "claude", exit: 1, stderr: "Error: --dangerously-skip-permissions cannot be used with root/sudo privileges",
			lines: `{"type":"system","subtype":"init","model":"x"}`, err: "root/sudo"},
		{name: "claude no result exit 0", kind: "claude", lines: "", err: "ended without a result event"},
		{name: "codex success", kind: "codex",
			lines: `{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"ok"}}` + "\n" + `{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":2}}`,
			out:   "ok"},
		{name: "codex turn failed", kind: "codex", exit: 1,
			lines: `{"type":"turn.failed","error":{"message":"quota exceeded"}}`, err: "quota exceeded"},
		{name: "codex exit without turn", kind: "codex", exit: 1, stderr: "Error: unexpected argument",
			lines: `{"type":"thread.started","thread_id":"t"}`, err: "unexpected argument"},
		{name: "codex error then exit 0", kind: "codex",
			lines: `{"type":"error","message":"Reconnecting... 1/5"}`, err: "Reconnecting... 1/5"},
		{name: "opencode stop", kind: "opencode",
			lines: `{"type":"text","part":{"type":"text","text":"all good"}}` + "\n" + `{"type":"step_finish","part":{"type":"step-finish","reason":"stop"}}`,
			out:   "all good"},
		{name: "opencode length", kind: "opencode",
			lines: `{"type":"step_finish","part":{"type":"step-finish","reason":"length"}}`, err: `reason "length"`},
		{name: "opencode no step", kind: "opencode", lines: `{"type":"step_start","part":{}}`, err: "ended without finishing a step"},
		{name: "opencode error event", kind: "opencode", exit: 1,
			lines: `{"type":"error","error":{"name":"ProviderAuthError","data":{"providerID":"x","message":"no key"}}}`, err: "no key"},
		{name: "opencode error by name", kind: "opencode", exit: 1,
			lines: `{"type":"error","error":{"name":"UnknownError"}}`, err: "UnknownError"},
		{name: "text exit 2", kind: "aider", exit: 2, lines: "Model fake has no API key\n", err: "aider failed (exit code 2): Model fake has no API key"},
		{name: "text stderr wins", kind: "goose", exit: 1, stderr: "Error: no provider", lines: "hello", err: "Error: no provider"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, out, err := parse(t, c.kind, c.lines, c.exit, c.stderr)
			if c.err == "" {
				if err != nil || out != c.out {
					t.Errorf("= %q, %v; want %q", out, err, c.out)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.err) || ce.ExitCode != c.exit {
				t.Errorf("= %q, %v; want an *Error with %q and exit code %d", out, err, c.err, c.exit)
			}
		})
	}
}

// TestParseClaudeTools: a tool call is recorded with its result, a failed
// result as an error, and a call left without a result when the stream
// ends.
func TestParseClaudeTools(t *testing.T) {
	t.Parallel()
	lines := strings.Join([]string{
		`{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"let me see"},{"type":"tool_use","id":"a","name":"Bash","input":{"command":"go test ./..."}}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"FAIL"}],"is_error":true}]}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","id":"b","name":"Read","input":{"file_path":"/x/main.go"}}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"b","content":"package main"}]}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","id":"c","name":"Edit","input":{"file_path":"/x/main.go"}}]}}`,
		`{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"error_status":529,"error":"overloaded"}`,
	}, "\n")
	run, _, _ := parse(t, "claude", lines, 1, "")
	tools := run.tools()
	if len(tools) != 3 {
		run.dump(t)
		t.Fatalf("tool events = %d, want 3", len(tools))
	}
	if tools[0].Skill != "Bash" || tools[0].Error != "FAIL" || tools[0].DurationMS != 5 || string(tools[0].Input) != `{"command":"go test ./..."}` {
		t.Errorf("first call = %+v", tools[0])
	}
	if tools[1].Skill != "Read" || tools[1].Output != "package main" || tools[1].Error != "" {
		t.Errorf("second call = %+v", tools[1])
	}
	if tools[2].Skill != "Edit" || !strings.Contains(tools[2].Error, "no result") {
		t.Errorf("unfinished call = %+v", tools[2])
	}
	if msg := run.events[0].msg; msg != "Bash go test ./...: error" {
		t.Errorf("event message = %q", msg)
	}
	if !run.logged("reasoning", "let me see") || !run.logged("claude", "API retry 2 of 10: overloaded (HTTP 529)") {
		run.dump(t)
		t.Error("thinking or retry not logged")
	}
}

// TestParseCodexItems: command, patch, MCP and search items become tool
// events, and a failed command carries its exit code.
func TestParseCodexItems(t *testing.T) {
	t.Parallel()
	lines := strings.Join([]string{
		`{"type":"item.started","item":{"id":"1","type":"command_execution","command":"make test","status":"in_progress"}}`,
		`{"type":"item.completed","item":{"id":"1","type":"command_execution","command":"make test","aggregated_output":"boom","exit_code":2,"status":"failed"}}`,
		`{"type":"item.completed","item":{"id":"2","type":"mcp_tool_call","server":"gh","tool":"search","arguments":{"query":"x"},"status":"completed"}}`,
		`{"type":"item.completed","item":{"id":"3","type":"web_search","query":"golang slog"}}`,
		`{"type":"item.completed","item":{"id":"4","type":"todo_list","items":[{"text":"write tests","completed":true}]}}`,
		`{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":4}}`,
		`{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":6}}`,
	}, "\n")
	run, _, err := parse(t, "codex", lines, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	tools := run.tools()
	if len(tools) != 3 || tools[0].Error != "exit code 2" || tools[0].Output != "boom" || tools[0].DurationMS != 5 ||
		tools[1].Skill != "gh.search" || tools[2].Skill != "web_search" {
		run.dump(t)
		t.Errorf("tools = %+v", tools)
	}
	if u, n := run.usage(); n != 2 || u.InputTokens != 8 || u.OutputTokens != 10 || u.Steps != 2 || u.Model != "m" {
		t.Errorf("usage = %d events, last %+v", n, u)
	}
	if !run.logged("plan", "[x] write tests") {
		t.Error("todo list not logged")
	}
}

// FuzzParseClaude, FuzzParseCodex and FuzzParseOpencode feed arbitrary
// streams to the parsers: they must not panic, and every payload they
// record must marshal.
func FuzzParseClaude(f *testing.F)   { fuzzParser(f, "claude") }
func FuzzParseCodex(f *testing.F)    { fuzzParser(f, "codex") }
func FuzzParseOpencode(f *testing.F) { fuzzParser(f, "opencode") }

func fuzzParser(f *testing.F, kind string) {
	f.Add(`{"type":"result","subtype":"success","is_error":false,"result":"done"}`, 0)
	f.Fuzz(func(t *testing.T, stream string, exit int) {
		run, _, err := parse(t, kind, stream, exit, "")
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("finish returned %T, want *Error", err)
		}
		for _, e := range run.events {
			if _, err := json.Marshal(e.data); err != nil {
				t.Fatalf("payload of %s does not marshal: %v", e.typ, err)
			}
			if e.typ != coderclaw.EventTool && e.typ != coderclaw.EventUsage {
				t.Fatalf("unexpected event type %s", e.typ)
			}
		}
	})
}
