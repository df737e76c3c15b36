package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
)

// codexInvocation runs `codex exec --json` with a CODEX_HOME of the run's
// own. Its config.toml turns off the update check, analytics and plugin
// sync (which reach the network); with OPENAI_BASE_URL configured it adds a
// provider for that server, which Codex speaks to with the Responses API
// only. Approvals and Codex's own sandbox are off: the CLI works
// unattended, and its bwrap sandbox does not work with a CODEX_HOME under
// /tmp.
func codexInvocation(r request) (invocation, error) {
	codexHome := filepath.Join(r.home, ".codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		return invocation{}, fmt.Errorf("create CODEX_HOME: %w", err)
	}
	var env []string
	var b strings.Builder
	base := r.env["OPENAI_BASE_URL"]
	custom := base != ""
	if custom {
		b.WriteString("model_provider = \"coderclaw\"\n")
		if _, ok := r.lookupEnv("OPENAI_API_KEY"); !ok {
			// Local servers ignore the key, but Codex wants the variable
			// its provider names.
			env = append(env, "OPENAI_API_KEY=coderclaw")
		}
	}
	b.WriteString("check_for_update_on_startup = false\n\n")
	b.WriteString("[analytics]\nenabled = false\n\n")
	b.WriteString("[features]\nplugins = false\nremote_plugin = false\napps = false\n")
	if custom {
		fmt.Fprintf(&b, "\n[model_providers.coderclaw]\nname = \"CoderClaw\"\nbase_url = %s\nenv_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n", tomlString(base))
	}
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(b.String()), 0o600); err != nil {
		return invocation{}, fmt.Errorf("write codex config: %w", err)
	}
	args := []string{"exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"}
	if r.model != "" {
		args = append(args, "--model", r.model)
	}
	args = append(args, r.args...)
	args = append(args, r.userPrompt())
	env = append(env, "CODEX_HOME="+codexHome)
	return invocation{args: args, env: env}, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// codexLine is one line of `codex exec --json`.
type codexLine struct {
	Type     string          `json:"type"`
	ThreadID string          `json:"thread_id"`
	Message  string          `json:"message"`
	Item     *codexItem      `json:"item"`
	Error    json.RawMessage `json:"error"`
	Usage    *struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// codexItem is a thread item; each type fills its own fields.
type codexItem struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status string `json:"status"`
	// agent_message, reasoning
	Text string `json:"text"`
	// command_execution
	Command          string `json:"command"`
	AggregatedOutput string `json:"aggregated_output"`
	ExitCode         *int   `json:"exit_code"`
	// file_change
	Changes []struct {
		Path string `json:"path"`
		Kind string `json:"kind"`
	} `json:"changes"`
	// mcp_tool_call
	Server    string          `json:"server"`
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments"`
	Result    json.RawMessage `json:"result"`
	Error     json.RawMessage `json:"error"`
	// web_search
	Query string `json:"query"`
	// error
	Message string `json:"message"`
	// todo_list
	Items []struct {
		Text      string `json:"text"`
		Completed bool   `json:"completed"`
	} `json:"items"`
}

// codexParser reads `codex exec --json` output.
type codexParser struct {
	s         sink
	started   map[string]time.Time
	usage     coderclaw.Usage
	output    string
	completed bool
	failed    string
	lastErr   string
}

func newCodexParser(s sink) parser {
	return &codexParser{s: s, started: map[string]time.Time{}, usage: coderclaw.Usage{Model: s.model}}
}

func (p *codexParser) line(raw string) {
	if strings.TrimSpace(raw) == "" {
		return
	}
	var l codexLine
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Type == "" {
		p.s.log("stdout", raw)
		return
	}
	switch l.Type {
	case "thread.started":
		p.s.log(p.s.kind, "thread "+l.ThreadID+" started")
	case "turn.started":
	case "turn.completed":
		p.completed = true
		p.usage.Steps++
		if l.Usage != nil {
			p.usage.InputTokens += l.Usage.InputTokens
			p.usage.OutputTokens += l.Usage.OutputTokens
		}
		p.s.usage(p.usage)
	case "turn.failed":
		p.failed = cmp.Or(errorMessage(l.Error), l.Message, "turn failed")
		p.lastErr = p.failed
		p.s.log(p.s.kind, "turn failed: "+p.failed)
	case "error":
		// Codex reports connection trouble this way and retries forever;
		// the message explains a run that ends at its deadline.
		p.lastErr = cmp.Or(l.Message, errorMessage(l.Error), "error")
		p.s.log(p.s.kind, p.lastErr)
	case "item.started", "item.updated":
		if l.Item != nil && l.Item.ID != "" && len(p.started) < maxPending {
			if _, ok := p.started[l.Item.ID]; !ok {
				p.started[l.Item.ID] = p.s.now()
			}
		}
	case "item.completed":
		if l.Item != nil {
			p.item(*l.Item)
		}
	default:
		p.s.log("stdout", raw)
	}
}

func (p *codexParser) item(it codexItem) {
	start, ok := p.started[it.ID]
	delete(p.started, it.ID)
	if !ok {
		start = p.s.now()
	}
	call := coderclaw.ToolCall{ID: it.ID, Skill: it.Type, DurationMS: max(p.s.now().Sub(start).Milliseconds(), 0)}
	switch it.Type {
	case "agent_message":
		p.s.log("assistant", it.Text)
		p.output = it.Text
	case "reasoning":
		p.s.log("reasoning", it.Text)
	case "command_execution":
		call.Input = mustJSON(map[string]string{"command": it.Command})
		call.Output = it.AggregatedOutput
		switch {
		case it.ExitCode != nil && *it.ExitCode != 0:
			call.Error = fmt.Sprintf("exit code %d", *it.ExitCode)
		case it.Status == "failed" || it.Status == "declined":
			call.Error = "command " + it.Status
		}
		p.s.tool(call, it.Command)
	case "file_change":
		var lines []string
		for _, c := range it.Changes {
			lines = append(lines, c.Kind+" "+c.Path)
		}
		call.Input = mustJSON(map[string]any{"changes": it.Changes})
		call.Output = strings.Join(lines, "\n")
		if it.Status == "failed" {
			call.Error = "patch failed"
		}
		detail := ""
		if len(it.Changes) > 0 {
			detail = it.Changes[0].Path
		}
		p.s.tool(call, detail)
	case "mcp_tool_call":
		call.Skill = strings.Trim(it.Server+"."+it.Tool, ".")
		call.Input = validJSON(it.Arguments)
		call.Output = text(it.Result)
		if e := errorMessage(it.Error); e != "" || it.Status == "failed" {
			call.Error = cmp.Or(e, "tool call failed")
		}
		p.s.tool(call, summarize(call.Input))
	case "web_search":
		call.Input = mustJSON(map[string]string{"query": it.Query})
		p.s.tool(call, it.Query)
	case "todo_list":
		for _, t := range it.Items {
			mark := "[ ]"
			if t.Completed {
				mark = "[x]"
			}
			p.s.log("plan", mark+" "+t.Text)
		}
	case "error":
		// Not fatal ("Model metadata for … not found"): the turn's outcome
		// tells.
		p.lastErr = it.Message
		p.s.log(p.s.kind, it.Message)
	default:
		p.s.log(p.s.kind, fmt.Sprintf("item %s of type %s", it.ID, it.Type))
	}
}

func (p *codexParser) finish(exit int, stderr string) (string, error) {
	switch {
	case p.failed != "":
		return "", p.s.fail(exit, "%s", p.failed)
	case exit != 0:
		return "", p.s.fail(exit, "%s", cmp.Or(p.lastErr, stderr, "exited with an error"))
	case !p.completed:
		return "", p.s.fail(exit, "%s", cmp.Or(p.lastErr, "ended without completing its turn"))
	}
	return p.output, nil
}

func (p *codexParser) lastError() string { return p.lastErr }

// errorMessage reads an error that is a string or an object with a
// message.
func errorMessage(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
		Name    string `json:"name"`
		Data    struct {
			Message string `json:"message"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return cmp.Or(o.Data.Message, o.Message, o.Name)
	}
	return string(raw)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps and slices of strings are marshalled here.
		panic(fmt.Sprintf("cli: marshal %T: %v", v, err))
	}
	return b
}
