// Package skill holds the tools agents call: the Skill interface, the
// built-in skills (Builtins: file-read, file-write, file-edit, list, grep,
// shell-exec, git-status, git-diff, git-commit, run-tests), the Set a role's
// skills are picked from, and the gate every call passes: Call checks it
// with a Guard (the security policy, every decision audited as
// skill.execute), checks that the input is a JSON object, then runs it.
//
// Every path a built-in skill takes is confined to Env.Dir: ".." elements,
// absolute paths elsewhere, symbolic links leading out and the .git
// directory are refused with an error meant for the model. Files are
// written atomically (a temporary file renamed over the old one), so the end
// of a call's context leaves either the old or the new content. shell-exec
// and run-tests run `sh -c` through Env.Sandbox (NoSandbox when nil) in a
// process group of their own that is killed whole on timeout, when the
// context ends and when the command exits; their output is bounded, its
// middle dropped with a marker.
//
// The built-in skills are stateless values, safe for concurrent use. Errors
// they return are meant for the model: they say what was wrong so it can
// correct the call. A policy denial is a *DeniedError.
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
	// timeout, then starts it. It must be built with
	// exec.CommandContext(ctx, ...), since callers set its Cancel to kill
	// the whole process group when ctx ends.
	Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error)
	// Kind names the confinement: "bwrap", "landlock" or "none".
	Kind() string
}
