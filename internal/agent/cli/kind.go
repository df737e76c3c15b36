package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
)

// Kind is one external coding CLI the package drives: how it is found and
// installed, and (unexported) how it is invoked and how its output is read.
type Kind struct {
	// Name is the kind's name in configuration: claude, codex, opencode,
	// goose or aider.
	Name string
	// Title is the product's name for people ("Claude Code").
	Title string
	// Command is the binary looked up on PATH when no path is configured.
	Command string
	// Install says how to install the CLI; it ends the reason of an
	// unavailable agent.
	Install string
	// Stream reports whether the CLI prints a JSON event stream; the
	// others print plain text.
	Stream bool

	invoke   func(r request) (invocation, error)
	validate func(cfg Config) error
	parse    func(s sink) parser
}

// Kinds returns every kind, sorted by name.
func Kinds() []Kind {
	return []Kind{
		{Name: "aider", Title: "Aider", Command: "aider", Install: "aider-chat with pip or pipx",
			invoke: aiderInvocation, parse: newTextParser},
		{Name: "claude", Title: "Claude Code", Command: "claude", Install: "@anthropic-ai/claude-code", Stream: true,
			invoke: claudeInvocation, parse: newClaudeParser},
		{Name: "codex", Title: "Codex", Command: "codex", Install: "@openai/codex", Stream: true,
			invoke: codexInvocation, parse: newCodexParser},
		{Name: "goose", Title: "Goose", Command: "goose", Install: "goose from github.com/block/goose releases",
			invoke: gooseInvocation, parse: newTextParser},
		{Name: "opencode", Title: "opencode", Command: "opencode", Install: "opencode-ai", Stream: true,
			invoke: opencodeInvocation, validate: opencodeValidate, parse: newOpencodeParser},
	}
}

// KindNames returns the names of every kind, sorted.
func KindNames() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// LookupKind returns the kind of a name.
func LookupKind(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

func (k Kind) invocation(r request) (invocation, error) {
	inv, err := k.invoke(r)
	if err != nil {
		return invocation{}, err
	}
	// Every CLI keeps its state under HOME or the XDG directories; all of
	// them point into the execution's private home. PWD is the working
	// directory, as a shell would set it: opencode takes its project
	// directory from PWD, not from getcwd.
	inv.env = append([]string{
		"PWD=" + r.dir,
		"HOME=" + r.home,
		"XDG_CONFIG_HOME=" + filepath.Join(r.home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(r.home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(r.home, ".cache"),
		"XDG_STATE_HOME=" + filepath.Join(r.home, ".local", "state"),
		"NO_COLOR=1",
		"TERM=dumb",
	}, inv.env...)
	return inv, nil
}

func (k Kind) parser(s sink) parser { return k.parse(s) }

func (k Kind) validateConfig(cfg Config) error {
	if k.validate == nil {
		return nil
	}
	return k.validate(cfg)
}

// request is what an invocation is built from.
type request struct {
	prompt string // the task's prompt
	system string // Config.Prompt
	model  string
	dir    string // the absolute working directory
	home   string // the execution's private home, empty and owned by it
	env    map[string]string
	args   []string
}

// userPrompt is the prompt of a CLI without a system prompt option: the
// system prompt, then the task's.
func (r request) userPrompt() string {
	if strings.TrimSpace(r.system) == "" {
		return argPrompt(r.prompt)
	}
	return argPrompt(strings.TrimSpace(r.system) + "\n\n" + r.prompt)
}

// lookupEnv reads a variable from the configured environment, then the
// node's.
func (r request) lookupEnv(key string) (string, bool) {
	if v, ok := r.env[key]; ok {
		return v, true
	}
	return os.LookupEnv(key)
}

// argPrompt makes a prompt safe as a command-line argument: one starting
// with "-" would be read as an option.
func argPrompt(p string) string {
	if strings.HasPrefix(p, "-") {
		return " " + p
	}
	return p
}

// invocation is how a CLI is started: its arguments and the variables
// added to its environment (before Config.Env).
type invocation struct {
	args []string
	env  []string
}

// parser turns a CLI's stdout into task events. It is used by one
// goroutine.
type parser interface {
	// line handles one line of stdout.
	line(s string)
	// finish says how the run ended, given the CLI's exit code and its
	// last non-empty line on stderr: the task's output, or an *Error.
	finish(exit int, stderr string) (string, error)
	// lastError is the last error the CLI reported while running ("" for
	// none); it explains a run that hit its deadline.
	lastError() string
}

// sink is where a parser reports.
type sink struct {
	run   agent.Run
	kind  string
	model string
	now   func() time.Time
}

// log records text line by line; empty lines are skipped.
func (s sink) log(stream, text string) {
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		s.run.Log(stream, clip(line, maxLogLine))
	}
}

// tool records a tool call; detail is a short view of its input.
func (s sink) tool(c coderclaw.ToolCall, detail string) {
	c.Input = validJSON(c.Input)
	c.Output = clip(c.Output, maxEventOutput)
	msg := strings.TrimSpace(c.Skill + " " + oneLine(detail, 120))
	if c.Error != "" {
		msg += ": error"
	}
	s.run.Record(coderclaw.EventTool, msg, c)
}

// usage records the usage so far.
func (s sink) usage(u coderclaw.Usage) {
	if u.Model == "" {
		u.Model = s.model
	}
	s.run.Record(coderclaw.EventUsage, fmt.Sprintf("step %d: %d tokens in, %d out, $%.4f so far",
		u.Steps, u.InputTokens, u.OutputTokens, u.CostUSD), u)
}

// fail builds the *Error of a run.
func (s sink) fail(exit int, format string, args ...any) error {
	return &Error{Kind: s.kind, ExitCode: exit, Message: fmt.Sprintf(format, args...)}
}

// scanLines calls fn for every line of r until r ends; a line longer than
// MaxLine is dropped and reported to tooLong with its length.
func scanLines(r io.Reader, fn func(string), tooLong func(int)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	dropped := 0
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case dropped > 0:
			dropped += len(chunk)
		case len(buf)+len(chunk) > MaxLine:
			dropped = len(buf) + len(chunk)
			buf = buf[:0]
		default:
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if dropped > 0 {
			tooLong(dropped)
			dropped = 0
		} else if len(buf) > 0 {
			fn(strings.TrimRight(string(buf), "\r\n"))
		}
		buf = buf[:0]
		if err != nil {
			return
		}
	}
}

// clip shortens s to at most about n bytes, saying how much was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-40, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[… %d more bytes not shown]", len(s)-cut)
}

// oneLine is s on one line, clipped to n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// validJSON keeps valid JSON and turns anything else into a JSON string,
// so an event's payload always marshals.
func validJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

// summarize is a short view of a tool's input: its path, pattern or
// command when it has one.
func summarize(input json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(input, &m) != nil {
		return ""
	}
	for _, k := range [...]string{"file_path", "filePath", "path", "pattern", "command", "cmd", "query", "url", "description"} {
		if v, ok := m[k].(string); ok && v != "" {
			return v
		}
	}
	return ""
}

// text reads a JSON value that is a string, or an array of content blocks
// whose text parts are joined (as Anthropic tool results are).
func text(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			if b.Text != "" {
				parts = append(parts, b.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return string(raw)
}
