package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coderclaw/coderclaw"
)

// MaxDiffBytes is the most diff text Diff returns; a longer diff is cut at
// a line end before it and marked Truncated.
const MaxDiffBytes = 1 << 20

// defaultMessage is the commit message when the caller gives none.
const defaultMessage = "coderclaw: task changes"

// Diff returns everything that changed in the worktree since Base as a
// unified diff (binary files as a "Binary files ... differ" line), with its
// summary: committed changes, changes not committed, and untracked files
// that are not ignored. Summary.Head is the worktree's HEAD when commits
// were made on the branch since Base, else "". Diff does not touch the
// worktree's index: it stages into a temporary one.
func (w *Workspace) Diff(ctx context.Context) (string, coderclaw.DiffSummary, error) {
	sum := coderclaw.DiffSummary{Branch: w.Branch, Base: w.Base}
	tmp, err := os.MkdirTemp("", "coderclaw-index-")
	if err != nil {
		return "", sum, fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	defer os.RemoveAll(tmp)
	index := filepath.Join(tmp, "index")
	if err := w.seedIndex(ctx, index); err != nil {
		return "", sum, err
	}
	env := []string{"GIT_INDEX_FILE=" + index}
	if _, err := gitWithEnv(ctx, w.Dir, env, "add", "--all"); err != nil {
		return "", sum, fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	diffArgs := []string{"diff", "--cached", "--find-renames", "--no-color", "--no-ext-diff",
		"--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"}

	numstat, err := gitWithEnv(ctx, w.Dir, env, append(diffArgs, "--numstat", "-z", w.Base, "--")...)
	if err != nil {
		return "", sum, fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	sum.Files, sum.Additions, sum.Deletions = parseNumstat(numstat)

	text, truncated, err := w.diffText(ctx, env, append(diffArgs, w.Base, "--"))
	if err != nil {
		return "", sum, err
	}
	sum.Truncated = truncated

	head, err := git(ctx, w.Dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", sum, fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	if head != w.Base {
		sum.Head = head
	}
	return text, sum, nil
}

// seedIndex copies the worktree's index to path, so that git add only
// hashes the files that changed since it was written.
func (w *Workspace) seedIndex(ctx context.Context, path string) error {
	real, err := git(ctx, w.Dir, "rev-parse", "--path-format=absolute", "--git-path", "index")
	if err != nil {
		return fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	b, err := os.ReadFile(real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("diff %s: read index: %w", w.Dir, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("diff %s: copy index: %w", w.Dir, err)
	}
	return nil
}

// diffText runs git diff and keeps at most MaxDiffBytes of its output,
// stopping git when there is more.
func (w *Workspace) diffText(ctx context.Context, env, args []string) (string, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stderr bytes.Buffer
	cmd := gitCmd(ctx, w.Dir, env, args...)
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", false, fmt.Errorf("diff %s: %w", w.Dir, err)
	}
	if err := cmd.Start(); err != nil {
		return "", false, fmt.Errorf("diff %s: start git: %w", w.Dir, err)
	}
	buf, readErr := io.ReadAll(io.LimitReader(out, MaxDiffBytes+1))
	truncated := len(buf) > MaxDiffBytes
	if truncated {
		// The rest is not wanted: stop git rather than read it.
		cancel()
		buf = buf[:MaxDiffBytes]
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
		}
	}
	waitErr := cmd.Wait()
	switch {
	case truncated:
	case readErr != nil:
		return "", false, fmt.Errorf("diff %s: read git output: %w", w.Dir, readErr)
	case waitErr != nil:
		return "", false, fmt.Errorf("diff %s: %w", w.Dir, &gitError{args: args, stderr: stderr.String(), err: waitErr})
	}
	return string(buf), truncated, nil
}

// parseNumstat counts the files, added and deleted lines of the output of
// git diff --numstat -z. Binary files count as files without lines.
func parseNumstat(s string) (files, adds, dels int) {
	fields := strings.Split(s, "\x00")
	for i := 0; i < len(fields); i++ {
		rec := fields[i]
		if rec == "" {
			continue
		}
		parts := strings.SplitN(rec, "\t", 3)
		if len(parts) < 3 {
			continue
		}
		files++
		adds = addCount(adds, parts[0])
		dels = addCount(dels, parts[1])
		if parts[2] == "" {
			// A rename or copy: the old and new paths follow as two
			// fields.
			i += 2
		}
	}
	return files, adds, dels
}

// addCount adds the line count s to n; "-" (a binary file) and anything
// that is not a count add nothing, and the sum saturates.
func addCount(n int, s string) int {
	c, err := strconv.Atoi(s)
	if err != nil || c < 0 {
		return n
	}
	if c > math.MaxInt-n {
		return math.MaxInt
	}
	return n + c
}

// Commit stages every change in the worktree, untracked files included,
// and commits it on the task branch as CoderClaw <coderclaw@localhost>,
// without running hooks or signing. It returns the new commit, or "" when
// nothing changed since the last commit.
func (w *Workspace) Commit(ctx context.Context, message string) (string, error) {
	if strings.TrimSpace(message) == "" {
		message = defaultMessage
	}
	if w.lock != nil {
		w.lock.Lock()
		defer w.lock.Unlock()
	}
	if _, err := gitRetry(ctx, w.Dir, "add", "--all"); err != nil {
		return "", fmt.Errorf("commit in %s: %w", w.Dir, err)
	}
	_, err := git(ctx, w.Dir, "diff", "--cached", "--quiet")
	if err == nil {
		return "", nil
	}
	if exitCode(err) != 1 {
		return "", fmt.Errorf("commit in %s: %w", w.Dir, err)
	}
	if _, err := gitRetry(ctx, w.Dir, "commit", "--no-verify", "--quiet",
		"--cleanup=whitespace", "--message", message); err != nil {
		return "", fmt.Errorf("commit in %s: %w", w.Dir, err)
	}
	head, err := git(ctx, w.Dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", fmt.Errorf("commit in %s: %w", w.Dir, err)
	}
	if w.log != nil {
		w.log.Info("committed workspace changes", "dir", w.Dir, "branch", w.Branch, "head", head)
	}
	return head, nil
}

// Remove deletes the worktree directory, whatever it holds, and prunes its
// registration in the repository. The branch stays: it holds the task's
// result.
func (w *Workspace) Remove(ctx context.Context) error {
	if w.lock != nil {
		w.lock.Lock()
		defer w.lock.Unlock()
	}
	if _, err := os.Lstat(w.Dir); err == nil {
		if _, err := gitRetry(ctx, w.Repo, "worktree", "remove", "--force", w.Dir); err != nil {
			if _, statErr := os.Lstat(w.Dir); statErr == nil {
				return fmt.Errorf("remove workspace %s: %w", w.Dir, err)
			}
		}
	}
	if _, err := gitRetry(ctx, w.Repo, "worktree", "prune"); err != nil {
		return fmt.Errorf("remove workspace %s: %w", w.Dir, err)
	}
	if w.log != nil {
		w.log.Info("removed workspace", "dir", w.Dir, "branch", w.Branch)
	}
	return nil
}
