package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coderclaw/coderclaw"
)

// opencodeProvider is the name of the provider the generated config adds
// for an OPENAI_BASE_URL.
const opencodeProvider = "coderclaw"

func opencodeValidate(cfg Config) error {
	if cfg.Env["OPENAI_BASE_URL"] != "" && cfg.Model == "" {
		return errors.New("model: required with OPENAI_BASE_URL (opencode must be told the model the server offers)")
	}
	return nil
}

// opencodeInvocation runs `opencode run --format json` with a config file
// of the run's own (OPENCODE_CONFIG): edits and shell allowed, autoupdate
// and sharing off, and, when OPENAI_BASE_URL or ANTHROPIC_BASE_URL is
// configured, a provider for that server. The environment turns off the
// model list fetch, plugins and LSP downloads, and points npm at a dead
// loopback port so the background registry lookups fail at once.
func opencodeInvocation(r request) (invocation, error) {
	conf := map[string]any{
		"autoupdate": false,
		"share":      "disabled",
		"permission": map[string]string{"edit": "allow", "bash": "allow", "webfetch": "deny"},
	}
	model := r.model
	if base := r.env["OPENAI_BASE_URL"]; base != "" {
		name := strings.TrimPrefix(model, opencodeProvider+"/")
		conf["provider"] = map[string]any{opencodeProvider: map[string]any{
			"npm":     "@ai-sdk/openai-compatible",
			"name":    "CoderClaw",
			"options": map[string]string{"baseURL": base, "apiKey": "{env:OPENAI_API_KEY}"},
			"models":  map[string]any{name: map[string]any{"name": name, "tool_call": true}},
		}}
		model = opencodeProvider + "/" + name
	} else if base := r.env["ANTHROPIC_BASE_URL"]; base != "" {
		base = strings.TrimRight(base, "/")
		if !strings.HasSuffix(base, "/v1") {
			base += "/v1"
		}
		conf["provider"] = map[string]any{"anthropic": map[string]any{
			"options": map[string]string{"baseURL": base, "apiKey": "{env:ANTHROPIC_API_KEY}"},
		}}
		if model != "" && !strings.Contains(model, "/") {
			model = "anthropic/" + model
		}
	}
	if model != "" {
		conf["model"] = model
		conf["small_model"] = model
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return invocation{}, fmt.Errorf("encode opencode config: %w", err)
	}
	path := filepath.Join(r.home, "opencode.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return invocation{}, fmt.Errorf("write opencode config: %w", err)
	}
	env := []string{
		"OPENCODE_CONFIG=" + path,
		"OPENCODE_DISABLE_MODELS_FETCH=1",
		"OPENCODE_DISABLE_AUTOUPDATE=1",
		"OPENCODE_DISABLE_DEFAULT_PLUGINS=1",
		"OPENCODE_DISABLE_LSP_DOWNLOAD=1",
		"OPENCODE_DISABLE_SHARE=1",
		"OPENCODE_PURE=1",
		"npm_config_registry=http://127.0.0.1:9/",
	}
	for _, k := range [...]string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} {
		if _, ok := r.lookupEnv(k); !ok {
			// The config reads the key from the environment; local servers
			// accept any.
			env = append(env, k+"=coderclaw")
		}
	}
	args := append([]string{"run", "--format", "json"}, r.args...)
	args = append(args, r.userPrompt())
	return invocation{args: args, env: env}, nil
}

// opencodeLine is one line of `opencode run --format json`.
type opencodeLine struct {
	Type      string          `json:"type"`
	SessionID string          `json:"sessionID"`
	Part      *opencodePart   `json:"part"`
	Error     json.RawMessage `json:"error"`
}

type opencodePart struct {
	Type string `json:"type"`
	// text, reasoning
	Text string `json:"text"`
	// tool
	Tool   string `json:"tool"`
	CallID string `json:"callID"`
	State  *struct {
		Status string          `json:"status"`
		Input  json.RawMessage `json:"input"`
		Output string          `json:"output"`
		Error  string          `json:"error"`
		Title  string          `json:"title"`
		Time   *struct {
			Start int64 `json:"start"`
			End   int64 `json:"end"`
		} `json:"time"`
	} `json:"state"`
	// step-finish
	Reason string  `json:"reason"`
	Cost   float64 `json:"cost"`
	Tokens *struct {
		Input     int64 `json:"input"`
		Output    int64 `json:"output"`
		Reasoning int64 `json:"reasoning"`
		Cache     struct {
			Read  int64 `json:"read"`
			Write int64 `json:"write"`
		} `json:"cache"`
	} `json:"tokens"`
}

// opencodeParser reads `opencode run --format json`. The stream has no
// final event: the run succeeded when the last step finished with reason
// "stop" and the process exited 0.
type opencodeParser struct {
	s          sink
	usage      coderclaw.Usage
	output     string
	lastReason string
	failed     string
}

func newOpencodeParser(s sink) parser {
	return &opencodeParser{s: s, usage: coderclaw.Usage{Model: s.model}}
}

func (p *opencodeParser) line(raw string) {
	if strings.TrimSpace(raw) == "" {
		return
	}
	var l opencodeLine
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Type == "" {
		p.s.log("stdout", raw)
		return
	}
	part := l.Part
	if part == nil {
		part = &opencodePart{}
	}
	switch l.Type {
	case "step_start":
	case "text":
		p.s.log("assistant", part.Text)
		if strings.TrimSpace(part.Text) != "" {
			p.output = part.Text
		}
	case "reasoning":
		p.s.log("reasoning", part.Text)
	case "tool_use":
		call := coderclaw.ToolCall{ID: part.CallID, Skill: cmp.Or(part.Tool, "unknown")}
		detail := ""
		if st := part.State; st != nil {
			call.Input = validJSON(st.Input)
			call.Output = st.Output
			if st.Status == "error" {
				call.Error = cmp.Or(st.Error, "tool failed")
			}
			if st.Time != nil && st.Time.End >= st.Time.Start {
				call.DurationMS = st.Time.End - st.Time.Start
			}
			detail = cmp.Or(summarize(call.Input), st.Title)
		}
		p.s.tool(call, detail)
	case "step_finish":
		p.lastReason = cmp.Or(part.Reason, "unknown")
		p.usage.Steps++
		p.usage.CostUSD += part.Cost
		if t := part.Tokens; t != nil {
			p.usage.InputTokens += t.Input + t.Cache.Read + t.Cache.Write
			p.usage.OutputTokens += t.Output + t.Reasoning
		}
		p.s.usage(p.usage)
	case "error":
		p.failed = cmp.Or(errorMessage(l.Error), "error")
		p.s.log(p.s.kind, p.failed)
	default:
		p.s.log("stdout", raw)
	}
}

func (p *opencodeParser) finish(exit int, stderr string) (string, error) {
	switch {
	case p.failed != "":
		return "", p.s.fail(exit, "%s", p.failed)
	case exit != 0:
		return "", p.s.fail(exit, "%s", cmp.Or(stderr, "exited with an error"))
	case p.lastReason == "":
		return "", p.s.fail(exit, "%s", cmp.Or(stderr, "ended without finishing a step"))
	case p.lastReason != "stop":
		return "", p.s.fail(exit, "last step ended with reason %q", p.lastReason)
	}
	return p.output, nil
}

func (p *opencodeParser) lastError() string { return p.failed }
