package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
)

// claudeInvocation runs `claude -p` with the stream-json output. Permissions
// are bypassed: the CLI works unattended in the task's workspace. As root
// Claude Code refuses that unless IS_SANDBOX=1, which is set then.
func claudeInvocation(r request) (invocation, error) {
	args := []string{"-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "bypassPermissions"}
	if r.model != "" {
		args = append(args, "--model", r.model)
	}
	if s := strings.TrimSpace(r.system); s != "" {
		args = append(args, "--append-system-prompt", s)
	}
	args = append(args, r.args...)
	args = append(args, argPrompt(r.prompt))
	env := []string{
		"DISABLE_TELEMETRY=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	}
	if os.Geteuid() == 0 {
		env = append(env, "IS_SANDBOX=1")
	}
	return invocation{args: args, env: env}, nil
}

// claudeLine is one line of Claude Code's stream-json output; each type
// fills its own fields.
type claudeLine struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`

	// system/init
	Model   string `json:"model"`
	Cwd     string `json:"cwd"`
	Version string `json:"claude_code_version"`
	// system/api_retry
	Attempt     int             `json:"attempt"`
	MaxRetries  int             `json:"max_retries"`
	Error       json.RawMessage `json:"error"`
	ErrorStatus json.RawMessage `json:"error_status"`

	// assistant, user
	Message *struct {
		Content json.RawMessage `json:"content"`
	} `json:"message"`

	// result
	IsError      bool            `json:"is_error"`
	Result       json.RawMessage `json:"result"`
	NumTurns     int             `json:"num_turns"`
	TotalCostUSD float64         `json:"total_cost_usd"`
	Usage        *struct {
		InputTokens         int64 `json:"input_tokens"`
		CacheCreationTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens        int64 `json:"output_tokens"`
	} `json:"usage"`
	Errors            json.RawMessage `json:"errors"`
	PermissionDenials []struct {
		ToolName  string `json:"tool_name"`
		ToolUseID string `json:"tool_use_id"`
	} `json:"permission_denials"`
}

// claudeBlock is one content block of a message.
type claudeBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	// tool_result
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// maxPending bounds the tool calls waiting for their results; beyond it a
// call is recorded at once, without its result.
const maxPending = 256

type pendingTool struct {
	call   coderclaw.ToolCall
	detail string
	start  time.Time
}

// pendingTools holds tool calls until their results arrive, in call order.
type pendingTools struct {
	order []string
	calls map[string]pendingTool
}

func (p *pendingTools) add(s sink, id string, t pendingTool) {
	if p.calls == nil {
		p.calls = map[string]pendingTool{}
	}
	if _, dup := p.calls[id]; dup || id == "" || len(p.calls) >= maxPending {
		s.tool(t.call, t.detail)
		return
	}
	p.order = append(p.order, id)
	p.calls[id] = t
}

func (p *pendingTools) take(id string) (pendingTool, bool) {
	t, ok := p.calls[id]
	if !ok {
		return t, false
	}
	delete(p.calls, id)
	for i, o := range p.order {
		if o == id {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	return t, true
}

// flush records the calls that never got a result.
func (p *pendingTools) flush(s sink) {
	for _, id := range p.order {
		t := p.calls[id]
		t.call.Error = "no result: the CLI ended before the tool returned"
		s.tool(t.call, t.detail)
	}
	p.order, p.calls = nil, nil
}

// claudeParser reads Claude Code's stream-json output.
type claudeParser struct {
	s       sink
	tools   pendingTools
	model   string
	result  *claudeLine
	lastErr string
}

func newClaudeParser(s sink) parser { return &claudeParser{s: s, model: s.model} }

func (p *claudeParser) line(raw string) {
	var l claudeLine
	if strings.TrimSpace(raw) == "" {
		return
	}
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Type == "" {
		p.s.log("stdout", raw)
		return
	}
	switch l.Type {
	case "system":
		switch l.Subtype {
		case "init":
			if l.Model != "" {
				p.model = l.Model
			}
			p.s.log(p.s.kind, fmt.Sprintf("Claude Code %s started in %s with model %s", cmp.Or(l.Version, "(unknown version)"), l.Cwd, cmp.Or(l.Model, "(default)")))
		case "api_retry":
			msg := fmt.Sprintf("API retry %d of %d: %s", l.Attempt, l.MaxRetries, cmp.Or(text(l.Error), "unknown error"))
			if s := strings.TrimSpace(string(l.ErrorStatus)); s != "" && s != "null" {
				msg += " (HTTP " + s + ")"
			}
			p.lastErr = msg
			p.s.log(p.s.kind, msg)
		case "status":
			// Partial-message progress; nothing to record.
		default:
			p.s.log(p.s.kind, raw)
		}
	case "assistant":
		for _, b := range p.blocks(l) {
			switch b.Type {
			case "text":
				p.s.log("assistant", b.Text)
			case "thinking":
				p.s.log("reasoning", b.Thinking)
			case "tool_use":
				in := validJSON(b.Input)
				p.tools.add(p.s, b.ID, pendingTool{
					call:   coderclaw.ToolCall{ID: b.ID, Skill: cmp.Or(b.Name, "unknown"), Input: in},
					detail: summarize(in),
					start:  p.s.now(),
				})
			}
		}
	case "user":
		for _, b := range p.blocks(l) {
			if b.Type != "tool_result" {
				continue
			}
			t, ok := p.tools.take(b.ToolUseID)
			if !ok {
				t = pendingTool{call: coderclaw.ToolCall{ID: b.ToolUseID, Skill: "unknown"}, start: p.s.now()}
			}
			out := text(b.Content)
			t.call.DurationMS = max(p.s.now().Sub(t.start).Milliseconds(), 0)
			if b.IsError {
				t.call.Error = oneLine(cmp.Or(out, "tool failed"), 500)
			} else {
				t.call.Output = out
			}
			p.s.tool(t.call, t.detail)
		}
	case "result":
		p.result = &l
		for _, d := range l.PermissionDenials {
			p.s.log(p.s.kind, fmt.Sprintf("permission denied: %s (%s)", d.ToolName, d.ToolUseID))
		}
		if l.Usage != nil || l.TotalCostUSD != 0 {
			u := coderclaw.Usage{Model: p.model, Steps: l.NumTurns, CostUSD: l.TotalCostUSD}
			if l.Usage != nil {
				u.InputTokens = l.Usage.InputTokens + l.Usage.CacheCreationTokens + l.Usage.CacheReadTokens
				u.OutputTokens = l.Usage.OutputTokens
			}
			p.s.usage(u)
		}
	case "stream_event":
		// Raw model deltas (--include-partial-messages); the whole
		// message follows as an assistant line.
	default:
		p.s.log("stdout", raw)
	}
}

func (p *claudeParser) blocks(l claudeLine) []claudeBlock {
	if l.Message == nil || len(l.Message.Content) == 0 {
		return nil
	}
	var bs []claudeBlock
	if err := json.Unmarshal(l.Message.Content, &bs); err != nil {
		// A plain string content is a prompt, not a tool result.
		return nil
	}
	return bs
}

func (p *claudeParser) finish(exit int, stderr string) (string, error) {
	p.tools.flush(p.s)
	r := p.result
	switch {
	case r == nil && exit != 0:
		return "", p.s.fail(exit, "%s", cmp.Or(stderr, p.lastErr, "exited without a result"))
	case r == nil:
		return "", p.s.fail(exit, "%s", cmp.Or(p.lastErr, "ended without a result event"))
	}
	out := text(r.Result)
	// A failed run may say "success" in subtype: is_error and the exit
	// code are what tell.
	if r.IsError || strings.HasPrefix(r.Subtype, "error") {
		return "", p.s.fail(exit, "%s", cmp.Or(out, errorsText(r.Errors), stderr, r.Subtype))
	}
	if exit != 0 {
		return "", p.s.fail(exit, "%s", cmp.Or(stderr, "exited with an error after a successful result"))
	}
	return out, nil
}

func (p *claudeParser) lastError() string { return p.lastErr }

// errorsText joins a JSON array of error strings.
func errorsText(raw json.RawMessage) string {
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return strings.Join(ss, "; ")
	}
	return ""
}
