package cli

import (
	"cmp"
	"strings"
)

// gooseInvocation runs `goose run -t PROMPT` in auto mode (no approvals),
// without the system keyring. The model is goose's GOOSE_MODEL; the
// provider and its key come from Config.Env (GOOSE_PROVIDER, …).
func gooseInvocation(r request) (invocation, error) {
	env := []string{"GOOSE_MODE=auto", "GOOSE_DISABLE_KEYRING=1"}
	if r.model != "" {
		env = append(env, "GOOSE_MODEL="+r.model)
	}
	args := append([]string{"run"}, r.args...)
	args = append(args, "-t", r.userPrompt())
	return invocation{args: args, env: env}, nil
}

// aiderInvocation runs `aider --message PROMPT` answering yes to every
// question, without streaming, colours, update checks, analytics or
// commits: the workspace, not the CLI, owns the task's commits.
func aiderInvocation(r request) (invocation, error) {
	args := []string{"--yes-always", "--no-stream", "--no-pretty", "--no-fancy-input",
		"--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
		"--no-check-update", "--no-show-release-notes", "--analytics-disable"}
	if r.model != "" {
		args = append(args, "--model", r.model)
	}
	args = append(args, r.args...)
	args = append(args, "--message", r.userPrompt())
	var env []string
	if base := r.env["OPENAI_BASE_URL"]; base != "" && r.env["OPENAI_API_BASE"] == "" {
		// Aider (through litellm) reads the OpenAI endpoint from
		// OPENAI_API_BASE.
		env = append(env, "OPENAI_API_BASE="+base)
	}
	return invocation{args: args, env: env}, nil
}

// textParser reads a CLI that prints plain text: every line is logged as
// the assistant's, the output is the tail of stdout, and the exit code
// alone says whether the run succeeded.
type textParser struct {
	s    sink
	out  []byte
	last string
}

func newTextParser(s sink) parser { return &textParser{s: s} }

func (p *textParser) line(s string) {
	p.s.log("assistant", s)
	if strings.TrimSpace(s) != "" {
		p.last = s
	}
	p.out = append(p.out, s...)
	p.out = append(p.out, '\n')
	if len(p.out) > 2*MaxOutput {
		p.out = append(p.out[:0], p.out[len(p.out)-MaxOutput:]...)
	}
}

func (p *textParser) finish(exit int, stderr string) (string, error) {
	if exit != 0 {
		return "", p.s.fail(exit, "%s", cmp.Or(stderr, p.last, "exited with an error"))
	}
	out := p.out
	if len(out) > MaxOutput {
		out = out[len(out)-MaxOutput:]
	}
	return strings.TrimRight(string(out), "\n"), nil
}

func (p *textParser) lastError() string { return "" }
