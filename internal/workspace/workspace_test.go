package workspace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

func TestDiffShowsEveryChangeSinceBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "gone.txt"), "one\ntwo\n")
	run(t, repo, "add", "-A")
	run(t, repo, "commit", "-q", "-m", "gone")
	ws := open(t, newManager(t, ""), repo, taskID)

	// Committed on the branch by the agent itself.
	writeFile(t, filepath.Join(ws.Dir, "committed.txt"), "c\n")
	run(t, ws.Dir, "add", "committed.txt")
	run(t, ws.Dir, "commit", "-q", "-m", "agent commit")
	agentHead := run(t, ws.Dir, "rev-parse", "HEAD")
	// Modified, deleted, untracked, ignored and binary.
	writeFile(t, filepath.Join(ws.Dir, "README.md"), "hello\nthere\n")
	if err := os.Remove(filepath.Join(ws.Dir, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ws.Dir, "dir", "untracked.txt"), "u1\nu2\nu3\n")
	writeFile(t, filepath.Join(ws.Dir, "debug.log"), "ignored\n")
	writeFile(t, filepath.Join(ws.Dir, "image.bin"), "\x00\x01\x02binary\x00")
	indexBefore := run(t, ws.Dir, "ls-files", "--stage")

	diff, sum, err := ws.Diff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := coderclaw.DiffSummary{
		Branch: ws.Branch, Base: ws.Base, Head: agentHead,
		Files: 5, Additions: 1 + 1 + 3, Deletions: 1 + 2,
	}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	for _, s := range []string{
		"diff --git a/README.md b/README.md", "-world", "+there",
		"diff --git a/gone.txt b/gone.txt", "deleted file mode",
		"diff --git a/dir/untracked.txt b/dir/untracked.txt", "new file mode", "+u3",
		"diff --git a/committed.txt b/committed.txt", "+c",
		"Binary files /dev/null and b/image.bin differ",
	} {
		if !strings.Contains(diff, s) {
			t.Errorf("diff lacks %q:\n%s", s, diff)
		}
	}
	if strings.Contains(diff, "debug.log") {
		t.Errorf("diff shows the ignored file:\n%s", diff)
	}
	// The worktree's own index is untouched.
	if got := run(t, ws.Dir, "ls-files", "--stage"); got != indexBefore {
		t.Errorf("Diff changed the index:\n%s\nwas\n%s", got, indexBefore)
	}
}

func TestDiffOfUnchangedWorktreeIsEmpty(t *testing.T) {
	t.Parallel()
	ws := open(t, newManager(t, ""), newRepo(t), taskID)
	diff, sum, err := ws.Diff(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" || sum != (coderclaw.DiffSummary{Branch: ws.Branch, Base: ws.Base}) {
		t.Errorf("Diff = %q, %+v, want nothing", diff, sum)
	}
}

func TestDiffIsTruncated(t *testing.T) {
	t.Parallel()
	ws := open(t, newManager(t, ""), newRepo(t), taskID)
	var b strings.Builder
	lines := 0
	for b.Len() < 2*workspace.MaxDiffBytes {
		fmt.Fprintf(&b, "line %d of a large generated file\n", lines)
		lines++
	}
	writeFile(t, filepath.Join(ws.Dir, "big.txt"), b.String())

	diff, sum, err := ws.Diff(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Truncated {
		t.Error("Truncated = false")
	}
	if len(diff) > workspace.MaxDiffBytes || len(diff) < workspace.MaxDiffBytes-100 {
		t.Errorf("diff holds %d bytes, want just under %d", len(diff), workspace.MaxDiffBytes)
	}
	if !strings.HasSuffix(diff, "\n") {
		t.Error("truncated diff does not end at a line end")
	}
	if sum.Files != 1 || sum.Additions != lines {
		t.Errorf("summary = %+v, want the whole diff counted: 1 file, %d additions", sum, lines)
	}
}

func TestCommitIgnoresHooksAndSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepo(t)
	// Settings of the user's repository that would make a commit fail.
	run(t, repo, "config", "commit.gpgsign", "true")
	run(t, repo, "config", "user.signingkey", "nonexistent")
	for _, hook := range []string{"pre-commit", "commit-msg", "prepare-commit-msg"} {
		writeFile(t, filepath.Join(repo, ".git", "hooks", hook), "#!/bin/sh\nexit 1\n")
		if err := os.Chmod(filepath.Join(repo, ".git", "hooks", hook), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ws := open(t, newManager(t, ""), repo, taskID)
	writeFile(t, filepath.Join(ws.Dir, "README.md"), "changed\n")
	writeFile(t, filepath.Join(ws.Dir, "new.txt"), "new\n")

	head, err := ws.Commit(ctx, "coderclaw: change things\n\nTask: x\n")
	if err != nil {
		t.Fatal(err)
	}
	if head == "" {
		t.Fatal("Commit returned no head for a changed worktree")
	}
	if got := run(t, repo, "rev-parse", ws.Branch); got != head {
		t.Errorf("branch at %s, want %s", got, head)
	}
	if got := run(t, repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", head); got != "CoderClaw <coderclaw@localhost>|CoderClaw <coderclaw@localhost>|coderclaw: change things" {
		t.Errorf("commit = %q", got)
	}
	if got := run(t, repo, "show", "--format=", "--name-only", head); got != "README.md\nnew.txt" {
		t.Errorf("commit holds %q", got)
	}
	if got := run(t, repo, "rev-parse", head+"^"); got != ws.Base {
		t.Errorf("commit parent %s, want base %s", got, ws.Base)
	}

	again, err := ws.Commit(ctx, "nothing")
	if err != nil || again != "" {
		t.Errorf("second Commit = %q, %v, want a no-op", again, err)
	}
}

func TestRemoveKeepsBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepo(t)
	ws := open(t, newManager(t, ""), repo, taskID)
	writeFile(t, filepath.Join(ws.Dir, "result.txt"), "result\n")
	head, err := ws.Commit(ctx, "result")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ws.Dir, "scratch.txt"), "not committed\n")

	if err := ws.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ws.Dir); !os.IsNotExist(err) {
		t.Errorf("worktree directory still there: %v", err)
	}
	if list := run(t, repo, "worktree", "list", "--porcelain"); strings.Contains(list, ws.Dir) {
		t.Errorf("worktree still registered:\n%s", list)
	}
	if got := run(t, repo, "rev-parse", ws.Branch); got != head {
		t.Errorf("branch at %s after Remove, want %s", got, head)
	}
	// Removing twice is not an error.
	if err := ws.Remove(ctx); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}
