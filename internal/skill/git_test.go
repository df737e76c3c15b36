package skill

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitSkills(t *testing.T) {
	t.Parallel()
	dir := newRepo(t, map[string]string{"a.txt": "one\n", "sub/b.txt": "two\n"})

	if got := mustRun(t, GitStatus{}, dir, `{}`); got != "## main\nnothing to commit, working tree clean\n" {
		t.Errorf("clean status: %q", got)
	}
	if got := mustRun(t, GitDiff{}, dir, ``); got != "no unstaged changes" {
		t.Errorf("clean diff: %q", got)
	}
	if got := mustRun(t, GitCommit{}, dir, `{"message":"nothing"}`); got != "nothing to commit: the workspace has no changes" {
		t.Errorf("empty commit: %q", got)
	}

	writeFiles(t, dir, map[string]string{"a.txt": "one\nmore\n", "sub/b.txt": "TWO\n", "new.txt": "new\n"})
	if got := mustRun(t, GitStatus{}, dir, `{}`); got != "## main\n M a.txt\n M sub/b.txt\n?? new.txt\n" {
		t.Errorf("status: %q", got)
	}
	diff := mustRun(t, GitDiff{}, dir, `{"path":"a.txt"}`)
	if !strings.Contains(diff, "--- a/a.txt\n+++ b/a.txt\n") || !strings.Contains(diff, "+more\n") || strings.Contains(diff, "b.txt") {
		t.Errorf("diff of a.txt:\n%s", diff)
	}
	if diff := mustRun(t, GitDiff{}, dir, `{"path":"sub"}`); !strings.Contains(diff, "+TWO\n") || strings.Contains(diff, "a.txt") {
		t.Errorf("diff of sub:\n%s", diff)
	}
	if got := mustRun(t, GitDiff{}, dir, `{"staged":true}`); got != "no staged changes" {
		t.Errorf("staged diff: %q", got)
	}
	git(t, dir, "add", "a.txt")
	if diff := mustRun(t, GitDiff{}, dir, `{"staged":true}`); !strings.Contains(diff, "+more\n") || strings.Contains(diff, "TWO") {
		t.Errorf("staged diff:\n%s", diff)
	}

	got := mustRun(t, GitCommit{}, dir, `{"message":"change things\n\nA body."}`)
	if !strings.HasPrefix(got, "committed ") || !strings.Contains(got, ": change things\n") || !strings.Contains(got, "3 files changed") {
		t.Errorf("commit: %q", got)
	}
	if log := git(t, dir, "log", "-1", "--format=%an <%ae>|%B"); log != "CoderClaw <coderclaw@localhost>|change things\n\nA body.\n\n" {
		t.Errorf("commit recorded as %q", log)
	}
	if got := mustRun(t, GitStatus{}, dir, `{}`); got != "## main\nnothing to commit, working tree clean\n" {
		t.Errorf("status after commit: %q", got)
	}
	if _, err := run(t, GitCommit{}, dir, `{"message":"  "}`); err == nil || !strings.Contains(err.Error(), "message is required") {
		t.Errorf("empty message: %v", err)
	}
}

func TestGitCommitSkipsHooks(t *testing.T) {
	t.Parallel()
	dir := newRepo(t, map[string]string{"a.txt": "one\n"})
	writeFiles(t, dir, map[string]string{".git/hooks/pre-commit": "#!/bin/sh\nexit 1\n", "a.txt": "two\n"})
	if err := os.Chmod(filepath.Join(dir, ".git", "hooks", "pre-commit"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The hook would refuse a commit made by git itself.
	cmd := exec.Command("git", "-c", "user.name=T", "-c", "user.email=t@localhost", "commit", "-qam", "x")
	cmd.Dir = dir
	if err := cmd.Run(); err == nil {
		t.Fatal("the pre-commit hook did not refuse a plain commit")
	}
	if got := mustRun(t, GitCommit{}, dir, `{"message":"despite the hook"}`); !strings.Contains(got, ": despite the hook") {
		t.Errorf("commit: %q", got)
	}
}

func TestGitOutsideARepository(t *testing.T) {
	t.Parallel()
	_, err := run(t, GitStatus{}, t.TempDir(), `{}`)
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("error %v", err)
	}
}
