package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
)

// Budget defaults.
const (
	DefaultMaxSteps  = 50
	DefaultMaxTokens = 2_000_000
)

// Limits on what the loop feeds back and records.
const (
	// MaxResultBytes bounds one tool result sent back to the model.
	MaxResultBytes = 64 << 10
	// maxEventOutput bounds the output kept in a tool event.
	maxEventOutput = 4 << 10
	// maxContextBytes bounds each project context file in the prompt.
	maxContextBytes = 32 << 10
)

// AskTool is the tool through which a model asks the human a question;
// the task waits until Respond answers it.
const AskTool = "ask_human"

var askSchema = json.RawMessage(`{"type":"object","properties":{"question":{"type":"string","description":"The question, complete and self-contained: the human sees nothing else."}},"required":["question"],"additionalProperties":false}`)

// Toolset is what the loop calls skills through, built per task: the
// skills the role may use, each call checked against the task's policy
// and confined to its workspace.
type Toolset interface {
	// Tools describes the tools to offer the model.
	Tools() []Tool
	// Call runs one tool call. An error goes back to the model as a tool
	// error; one that has a Denied() bool method returning true is a
	// policy denial.
	Call(ctx context.Context, name string, input json.RawMessage) (string, error)
}

// ToolsFunc builds the toolset of one execution.
type ToolsFunc func(ctx context.Context, run agent.Run) (Toolset, error)

// Agent is an LLM agent: a role's prompt played by a model that calls
// skills until it answers. It implements agent.Executor.
type Agent struct {
	// ID names the agent in events.
	ID string
	// Prompt is the role's system prompt.
	Prompt string
	Model  Model
	// ModelName is the model asked for; empty means the provider default.
	ModelName string
	// Tools builds each execution's toolset; nil means no tools.
	Tools ToolsFunc
	// MaxSteps bounds the model calls of a task, MaxTokens the tokens
	// (input and output) they use; zero means the defaults.
	MaxSteps  int
	MaxTokens int64
	// MaxOutputTokens bounds one response; zero means the provider's
	// default.
	MaxOutputTokens int
	Logger          *slog.Logger
}

var _ agent.Executor = (*Agent)(nil)

// checkpoint is the loop's state saved before it asks a question, so a
// later execution resumes the conversation instead of starting over.
type checkpoint struct {
	Version  int             `json:"version"`
	Messages []Message       `json:"messages"`
	Usage    coderclaw.Usage `json:"usage"`
	// Asked counts the questions answered before the pending one: the
	// engine replays answers in order, so a resumed execution asks them
	// again to reach the pending one's answer.
	Asked int `json:"asked"`
	// Done holds the results of the last turn's calls made before the
	// question; the question's call is the next one.
	Done []ToolResult `json:"done,omitempty"`
}

const checkpointVersion = 1

// BudgetError ends a task whose model did not finish within its budget.
type BudgetError struct {
	What  string // "step" or "token"
	Limit int64
	Steps int
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%s budget of %d exhausted after %d steps without a final answer", e.What, e.Limit, e.Steps)
}

// loop is one execution's state.
type loop struct {
	a      *Agent
	run    agent.Run
	tools  Toolset
	offer  []Tool
	system string
	msgs   []Message
	usage  coderclaw.Usage
	asked  int
}

// Execute runs the conversation to the model's final answer, which is the
// task's output.
func (a *Agent) Execute(ctx context.Context, run agent.Run) (string, error) {
	if a.Model == nil {
		return "", fmt.Errorf("agent %s: %w", a.ID, ErrNoProvider)
	}
	l := &loop{a: a, run: run}
	if a.Tools != nil {
		ts, err := a.Tools(ctx, run)
		if err != nil {
			return "", fmt.Errorf("agent %s: tools: %w", a.ID, err)
		}
		l.tools = ts
		l.offer = ts.Tools()
	}
	l.offer = append(l.offer, Tool{Name: AskTool, Schema: askSchema,
		Description: "Ask the human who gave you the task a question and wait for the answer. Use it only when you cannot go on without a decision or a fact only they have."})
	l.system = SystemPrompt(a.Prompt, run.Dir(), run.Task())

	resume, err := l.restore(ctx)
	if err != nil {
		return "", err
	}
	if resume != nil {
		if err := l.finishTurn(ctx, resume); err != nil {
			return "", err
		}
	} else {
		l.msgs = []Message{{Role: User, Text: taskPrompt(run.Task())}}
	}
	return l.converse(ctx)
}

func (a *Agent) maxSteps() int {
	if a.MaxSteps > 0 {
		return a.MaxSteps
	}
	return DefaultMaxSteps
}

func (a *Agent) maxTokens() int64 {
	if a.MaxTokens > 0 {
		return a.MaxTokens
	}
	return DefaultMaxTokens
}

// converse calls the model until it answers without tool calls.
func (l *loop) converse(ctx context.Context) (string, error) {
	maxSteps, maxTokens := l.a.maxSteps(), l.a.maxTokens()
	for {
		if l.usage.Steps >= maxSteps {
			return "", &BudgetError{What: "step", Limit: int64(maxSteps), Steps: l.usage.Steps}
		}
		if used := l.usage.InputTokens + l.usage.OutputTokens; used >= maxTokens {
			return "", &BudgetError{What: "token", Limit: maxTokens, Steps: l.usage.Steps}
		}
		resp, err := l.step(ctx)
		if err != nil {
			return "", err
		}
		if len(resp.Message.ToolCalls) == 0 {
			if resp.StopReason == "max_tokens" || resp.StopReason == "length" {
				l.run.Log("stderr", "the model's last answer was cut off at its output token limit")
			}
			return resp.Message.Text, nil
		}
		if err := l.finishTurn(ctx, &checkpoint{}); err != nil {
			return "", err
		}
	}
}

// step makes one model call and records its text and usage.
func (l *loop) step(ctx context.Context) (Response, error) {
	lw := &lineWriter{log: func(s string) { l.run.Log("assistant", s) }}
	resp, err := l.a.Model.Complete(ctx, Request{
		Model: l.a.ModelName, System: l.system, Messages: l.msgs, Tools: l.offer,
		MaxTokens: l.a.MaxOutputTokens,
	}, lw.write)
	lw.flush()
	if err != nil {
		if ctx.Err() != nil {
			return Response{}, context.Cause(ctx)
		}
		return Response{}, fmt.Errorf("model %s: %w", l.a.Model.Name(), err)
	}
	if !lw.wrote && resp.Message.Text != "" {
		for line := range strings.Lines(resp.Message.Text) {
			l.run.Log("assistant", strings.TrimRight(line, "\n"))
		}
	}
	resp.Message.Role = Assistant
	l.msgs = append(l.msgs, resp.Message)
	l.usage.Steps++
	l.usage.InputTokens += resp.Usage.InputTokens
	l.usage.OutputTokens += resp.Usage.OutputTokens
	l.usage.CostUSD += resp.CostUSD
	if resp.Model != "" {
		l.usage.Model = resp.Model
	}
	l.run.Record(coderclaw.EventUsage, fmt.Sprintf("step %d: %d tokens in, %d out, $%.4f so far",
		l.usage.Steps, l.usage.InputTokens, l.usage.OutputTokens, l.usage.CostUSD), l.usage)
	return resp, nil
}

// finishTurn runs the tool calls of the last assistant message, starting
// after the results cp already holds, and appends their results.
func (l *loop) finishTurn(ctx context.Context, cp *checkpoint) error {
	last := l.msgs[len(l.msgs)-1]
	results := cp.Done
	for _, call := range last.ToolCalls[len(results):] {
		var r ToolResult
		if call.Name == AskTool {
			question, ok := askInput(call.Input)
			if !ok {
				r = ToolResult{CallID: call.ID, IsError: true, Output: `the input must be {"question": "..."} with a question`}
				results = append(results, r)
				continue
			}
			answer, err := l.ask(ctx, question, results)
			if err != nil {
				return err
			}
			r = ToolResult{CallID: call.ID, Output: answer}
		} else {
			r = l.call(ctx, call)
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		results = append(results, r)
	}
	l.msgs = append(l.msgs, Message{Role: User, Results: results})
	return nil
}

// call runs one tool call and records it.
func (l *loop) call(ctx context.Context, c ToolCall) ToolResult {
	start := time.Now()
	ev := coderclaw.ToolCall{ID: c.ID, Skill: c.Name, Input: validJSON(c.Input)}
	var (
		out string
		err error
	)
	if l.tools == nil {
		err = fmt.Errorf("unknown tool %q: this agent has no tools", c.Name)
	} else {
		out, err = l.tools.Call(ctx, c.Name, c.Input)
	}
	ev.DurationMS = time.Since(start).Milliseconds()
	r := ToolResult{CallID: c.ID, Output: clip(out, MaxResultBytes)}
	msg := c.Name + " " + summarize(c.Input)
	if err != nil {
		var d interface{ Denied() bool }
		ev.Denied = errors.As(err, &d) && d.Denied()
		ev.Error = err.Error()
		r.IsError = true
		r.Output = clip(err.Error(), MaxResultBytes)
		if out != "" {
			r.Output = clip(out+"\n"+err.Error(), MaxResultBytes)
		}
		if ev.Denied {
			msg += ": denied"
		} else {
			msg += ": error"
		}
	}
	ev.Output = clip(out, maxEventOutput)
	l.run.Record(coderclaw.EventTool, msg, ev)
	return r
}

// ask saves a checkpoint and asks the human; done holds the results of the
// turn's calls made before this one.
func (l *loop) ask(ctx context.Context, question string, done []ToolResult) (string, error) {
	l.run.Record(coderclaw.EventCheckpoint, "before asking", checkpoint{
		Version: checkpointVersion, Messages: l.msgs, Usage: l.usage, Asked: l.asked, Done: done,
	})
	answer, err := l.run.Ask(ctx, question)
	if err != nil {
		return "", err
	}
	l.asked++
	return answer, nil
}

// askInput reads the question of an ask_human call.
func askInput(input json.RawMessage) (string, bool) {
	var in struct {
		Question string `json:"question"`
	}
	if json.Unmarshal(input, &in) != nil || strings.TrimSpace(in.Question) == "" {
		return "", false
	}
	return in.Question, true
}

// restore loads the last checkpoint of the task, if any, and replays the
// answers given before it so the engine's answer index lines up.
func (l *loop) restore(ctx context.Context) (*checkpoint, error) {
	evs, err := l.run.History(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent %s: read history: %w", l.a.ID, err)
	}
	var data json.RawMessage
	for _, ev := range evs {
		if ev.Type == coderclaw.EventCheckpoint {
			data = ev.Data
		}
	}
	if data == nil {
		return nil, nil
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil || cp.Version != checkpointVersion || len(cp.Messages) == 0 {
		l.run.Log("stderr", "ignoring an unreadable checkpoint; starting over")
		return nil, nil
	}
	last := cp.Messages[len(cp.Messages)-1]
	if last.Role != Assistant || len(cp.Done) >= len(last.ToolCalls) {
		l.run.Log("stderr", "ignoring a checkpoint without a pending call; starting over")
		return nil, nil
	}
	for range cp.Asked {
		if _, err := l.run.Ask(ctx, "(replayed)"); err != nil {
			return nil, err
		}
	}
	l.msgs, l.usage, l.asked = cp.Messages, cp.Usage, cp.Asked
	l.run.Log("stderr", fmt.Sprintf("resuming the conversation at step %d", cp.Usage.Steps))
	return &cp, nil
}

// taskPrompt is the first user message: what the task asks.
func taskPrompt(t coderclaw.Task) string {
	if t.Description != "" && t.Description != t.Input {
		return t.Description + "\n\n" + t.Input
	}
	return t.Input
}

// SystemPrompt builds the system prompt of a task: the role's prompt, the
// workspace, and the project's context files (.coderClaw/context.yaml,
// architecture.md and rules.yaml) when the workspace has them.
func SystemPrompt(role, dir string, t coderclaw.Task) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(role))
	b.WriteString("\n\n# Environment\n")
	fmt.Fprintf(&b, "You work in the directory %s", dir)
	if t.Repo != "" {
		b.WriteString(", a git worktree of the task's repository on its own branch")
	}
	b.WriteString(". Paths you give tools are relative to it; you cannot leave it. " +
		"Work with the tools: read before you edit, run the tests after you change code, and end with a short summary of what you did as your final answer.\n")
	for _, name := range [...]string{".coderClaw/context.yaml", ".coderClaw/architecture.md", ".coderClaw/rules.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n# Project context: %s\n%s\n", name, clip(string(data), maxContextBytes))
	}
	return b.String()
}

// lineWriter turns streamed text into log lines.
type lineWriter struct {
	log   func(string)
	buf   strings.Builder
	wrote bool
}

func (w *lineWriter) write(s string) {
	w.wrote = true
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			w.buf.WriteString(s)
			return
		}
		w.buf.WriteString(s[:i])
		w.log(w.buf.String())
		w.buf.Reset()
		s = s[i+1:]
	}
}

func (w *lineWriter) flush() {
	if w.buf.Len() > 0 {
		w.log(w.buf.String())
		w.buf.Reset()
	}
}

// clip cuts s to at most n bytes on a rune boundary, saying so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[… %d more bytes not shown]", len(s)-cut)
}

// validJSON returns raw when it is valid JSON, else raw as a JSON string,
// so an event's payload stays valid whatever the model sent.
func validJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

// summarize gives a short view of a tool's input for an event message:
// the path, pattern or command when there is one.
func summarize(input json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(input, &m) != nil {
		return "(malformed input)"
	}
	for _, k := range [...]string{"path", "pattern", "command", "message", "question"} {
		if v, ok := m[k].(string); ok && v != "" {
			return clip(strings.ReplaceAll(v, "\n", " "), 120)
		}
	}
	return ""
}
