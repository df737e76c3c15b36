// Package skill defines the tools agents call: the Skill interface, the
// built-in skills (files, search, shell, git, tests), and the Toolbox an
// agent loop calls them through, which checks every call against the
// security policy before it runs and records it.
package skill

import (
	"context"
	"encoding/json"
	"os/exec"

	"github.com/coderclaw/coderclaw"
)

// Skill is a tool an agent may call.
type Skill interface {
	// Info describes the skill: id, description, the permission it
	// requires and whether it is dangerous.
	Info() coderclaw.Skill
	// Schema is the JSON Schema of the skill's input object.
	Schema() json.RawMessage
	// Call runs the skill with the model's input in env. A returned error
	// is reported to the model as a tool error (its text must say what was
	// wrong so the model can correct itself); a call that ends with ctx
	// must return promptly, leaving the workspace consistent.
	Call(ctx context.Context, env Env, input json.RawMessage) (string, error)
}

// Env is where a skill call runs.
type Env struct {
	// Dir is the task's workspace: the root of its git worktree, or its
	// scratch directory. File skills refuse paths that leave it.
	Dir string
	// Log records a line of the call's progress in the task's events.
	Log func(stream, line string)
	// Sandbox runs commands (shell-exec, run-tests) confined to Dir.
	Sandbox Sandbox
}

// Sandbox starts commands for skills (workspace.Sandbox is one).
type Sandbox interface {
	// Command returns a command that runs argv in dir, confined as far as
	// the sandbox can: the caller sets its output, process group and
	// timeout, then starts it.
	Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error)
	// Kind names the confinement: "bwrap", "landlock" or "none".
	Kind() string
}
