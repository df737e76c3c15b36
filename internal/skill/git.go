package skill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/coderclaw/coderclaw"
)

// The identity of the commits git-commit makes.
const (
	CommitName  = "CoderClaw"
	CommitEmail = "coderclaw@localhost"
)

// gitFlags go before every git command the skills run, so that hooks,
// signing, external diff tools and the file system monitor configured in
// the repository or by the user neither run nor block.
var gitFlags = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "core.fsmonitor=false",
	"-c", "core.quotepath=false",
	"-c", "color.ui=false",
	"-c", "commit.gpgsign=false",
	"-c", "user.name=" + CommitName,
	"-c", "user.email=" + CommitEmail,
}

// gitRun runs git in dir with stdin and returns its stdout. A git that
// fails is an error carrying its stderr; its exit code is in the
// *exec.ExitError it wraps.
func gitRun(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append(append([]string{}, gitFlags...), args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.String(), fmt.Errorf("git %s: %s: %w", args[0], clipLine(msg, 2000), err)
	}
	return stdout.String(), nil
}

// gitEnv is the node's environment without the variables that would point
// git at another repository, index or identity, in the C locale so that
// its messages read the same everywhere.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "LC_ALL" || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "GIT_OPTIONAL_LOCKS=0",
		"GIT_AUTHOR_NAME="+CommitName, "GIT_AUTHOR_EMAIL="+CommitEmail,
		"GIT_COMMITTER_NAME="+CommitName, "GIT_COMMITTER_EMAIL="+CommitEmail)
}

// gitExitCode returns the exit code of a git that ran and failed, or -1.
func gitExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// GitStatus is the git-status skill.
type GitStatus struct{}

var _ Skill = GitStatus{}

// Info implements Skill.
func (GitStatus) Info() coderclaw.Skill {
	return builtinInfo("git-status", "Show the git status of the workspace: the branch, and the files that are modified, staged or untracked, "+
		"in git's short format (XY path: X is the staged state, Y the unstaged one, ?? untracked).", false)
}

// Schema implements Skill.
func (GitStatus) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`)
}

// Call implements Skill.
func (GitStatus) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in struct{}
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	root, err := rootDir(env.Dir)
	if err != nil {
		return "", err
	}
	out, err := gitRun(ctx, root, nil, "status", "--short", "--branch")
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) <= 1 {
		out = strings.TrimRight(out, "\n") + "\nnothing to commit, working tree clean\n"
	}
	c := newClip(MaxCommandOutput-OutputHead, OutputHead)
	_, _ = c.Write([]byte(out))
	return c.String(), nil
}

// GitDiff is the git-diff skill.
type GitDiff struct{}

var _ Skill = GitDiff{}

type gitDiffInput struct {
	Staged bool   `json:"staged"`
	Path   string `json:"path"`
}

// Info implements Skill.
func (GitDiff) Info() coderclaw.Skill {
	return builtinInfo("git-diff", fmt.Sprintf("Show the changes of the workspace as a unified diff: by default the unstaged changes of tracked files "+
		"(untracked files are not shown; git-status lists them), with staged true the changes staged for the next commit. "+
		"path limits the diff to a file or directory. Output beyond %d KiB is cut in the middle.", MaxCommandOutput>>10), false)
}

// Schema implements Skill.
func (GitDiff) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"staged":{"type":"boolean","description":"Show the staged changes instead of the unstaged ones. Default false."},` +
		`"path":{"type":"string","description":"Only show changes to this file or directory, relative to the workspace root."}` +
		`},"additionalProperties":false}`)
}

// Call implements Skill.
func (GitDiff) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in gitDiffInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	root, err := rootDir(env.Dir)
	if err != nil {
		return "", err
	}
	args := []string{"diff", "--no-color", "--no-ext-diff", "--no-textconv"}
	if in.Staged {
		args = append(args, "--staged")
	}
	if in.Path != "" {
		p, err := resolve(root, in.Path)
		if err != nil {
			return "", err
		}
		args = append(args, "--", relPath(root, p))
	}
	out, err := gitRun(ctx, root, nil, args...)
	if err != nil {
		return "", err
	}
	if out == "" {
		msg := "no unstaged changes"
		if in.Staged {
			msg = "no staged changes"
		}
		if in.Path != "" {
			msg += " in " + in.Path
		}
		return msg, nil
	}
	c := newClip(MaxCommandOutput-OutputHead, OutputHead)
	_, _ = c.Write([]byte(out))
	return c.String(), nil
}

// GitCommit is the git-commit skill.
type GitCommit struct{}

var _ Skill = GitCommit{}

type gitCommitInput struct {
	Message string `json:"message"`
}

// Info implements Skill.
func (GitCommit) Info() coderclaw.Skill {
	return builtinInfo("git-commit", "Commit every change of the workspace (git add -A, then git commit) with the message given. "+
		"Commit hooks do not run. When nothing changed, nothing is committed and the result says so.", false)
}

// Schema implements Skill.
func (GitCommit) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"message":{"type":"string","description":"The commit message: a short summary line, optionally a blank line and a body."}` +
		`},"required":["message"],"additionalProperties":false}`)
}

// Call implements Skill.
func (GitCommit) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in gitCommitInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.Message) == "" {
		return "", errors.New("input: message is required")
	}
	root, err := rootDir(env.Dir)
	if err != nil {
		return "", err
	}
	if _, err := gitRun(ctx, root, nil, "add", "-A"); err != nil {
		return "", err
	}
	_, err = gitRun(ctx, root, nil, "diff", "--cached", "--quiet")
	switch {
	case err == nil:
		return "nothing to commit: the workspace has no changes", nil
	case gitExitCode(err) != 1:
		return "", err
	}
	if _, err := gitRun(ctx, root, []byte(in.Message), "commit", "--no-verify", "--quiet", "--file=-"); err != nil {
		return "", err
	}
	out, err := gitRun(ctx, root, nil, "show", "--stat", "--format=committed %h: %s", "HEAD")
	if err != nil {
		return "", err
	}
	c := newClip(MaxCommandOutput-OutputHead, OutputHead)
	_, _ = c.Write([]byte(out))
	return c.String(), nil
}
