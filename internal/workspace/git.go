package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// gitArgs prefixes args with the settings every git command runs with, so
// that the user's hooks and signing settings cannot block or alter what the
// runtime does.
func gitArgs(args []string) []string {
	return append([]string{
		"-c", "core.hooksPath=/dev/null",
		"-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false",
		"-c", "core.quotepath=false",
		"-c", "user.name=" + authorName,
		"-c", "user.email=" + authorEmail,
	}, args...)
}

// The identity of the commits the runtime makes.
const (
	authorName  = "CoderClaw"
	authorEmail = "coderclaw@localhost"
)

// lockRetryDelay is how long a git command that met another process's lock
// waits before its one retry.
const lockRetryDelay = 200 * time.Millisecond

// gitError is a git command that failed, with what it wrote to stderr.
type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

func (e *gitError) Unwrap() error { return e.err }

// lockError reports whether err is git failing on a lock file another git
// process holds (index.lock, packed-refs.lock, a ref's lock).
func lockError(err error) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return false
	}
	s := ge.stderr
	return strings.Contains(s, ".lock") &&
		(strings.Contains(s, "File exists") || strings.Contains(s, "Unable to create") ||
			strings.Contains(s, "cannot lock") || strings.Contains(s, "could not lock"))
}

// gitEnv is the environment of git commands: the node's, without the
// variables that would point git at another repository or index, in the C
// locale so that messages can be recognised.
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
			"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
			"GIT_COMMITTER_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE",
			"GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "LC_ALL", "LANG", "LANGUAGE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+authorName, "GIT_AUTHOR_EMAIL="+authorEmail,
		"GIT_COMMITTER_NAME="+authorName, "GIT_COMMITTER_EMAIL="+authorEmail)
	return append(env, extra...)
}

// gitCmd builds a git command run in dir.
func gitCmd(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", gitArgs(args)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(env...)
	return cmd
}

// git runs git in dir and returns its stdout with the trailing newline
// trimmed.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	return gitWithEnv(ctx, dir, nil, args...)
}

func gitWithEnv(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := gitCmd(ctx, dir, env, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", &gitError{args: args, stderr: stderr.String(), err: err}
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}

// gitRetry runs git like git, once more after a short wait when the first
// run failed on a lock another git process held.
func gitRetry(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := git(ctx, dir, args...)
	if err == nil || !lockError(err) {
		return out, err
	}
	t := time.NewTimer(lockRetryDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("%w (not retried: %w)", err, ctx.Err())
	case <-t.C:
	}
	return git(ctx, dir, args...)
}

// exitCode returns the exit status of a git command that ran and failed,
// or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
