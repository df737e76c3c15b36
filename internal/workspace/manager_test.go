package workspace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coderclaw/coderclaw/internal/workspace"
)

func TestShortID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ id, want string }{
		{taskID, "5f6a7b8c9d0e"},
		{"ABC-def", "abcdef"},
		{"0123456789abcdef", "456789abcdef"},
	} {
		if got := workspace.ShortID(tc.id); got != tc.want {
			t.Errorf("ShortID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestOpenCreatesWorktreeOnTaskBranch(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	m := newManager(t, "")
	ws := open(t, m, repo, taskID)

	if want := "task/5f6a7b8c9d0e"; ws.Branch != want {
		t.Errorf("Branch = %q, want %q", ws.Branch, want)
	}
	if want := filepath.Join(m.Dir(), taskID); ws.Dir != want {
		t.Errorf("Dir = %q, want %q", ws.Dir, want)
	}
	if head := run(t, repo, "rev-parse", "HEAD"); ws.Base != head {
		t.Errorf("Base = %q, want repo HEAD %q", ws.Base, head)
	}
	if got := run(t, ws.Dir, "rev-parse", "--abbrev-ref", "HEAD"); got != ws.Branch {
		t.Errorf("worktree is on %q, want %q", got, ws.Branch)
	}
	if got := readFile(t, filepath.Join(ws.Dir, "README.md")); got != "hello\nworld\n" {
		t.Errorf("README.md = %q", got)
	}
	if len(ws.Warnings) != 0 {
		t.Errorf("Warnings = %q for a clean repo", ws.Warnings)
	}
	// The repository's own checkout is untouched.
	if got := run(t, repo, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("repo moved to %q", got)
	}
}

func TestOpenFromSubdirectoryUsesTopLevel(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "sub", "x.txt"), "x\n")
	run(t, repo, "add", "-A")
	run(t, repo, "commit", "-q", "-m", "sub")
	ws := open(t, newManager(t, ""), filepath.Join(repo, "sub"), taskID)
	real, _ := filepath.EvalSymlinks(repo)
	if ws.Repo != real {
		t.Errorf("Repo = %q, want %q", ws.Repo, real)
	}
}

func TestOpenReusesWorktreeAfterRestart(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	dir := filepath.Join(t.TempDir(), "worktrees")
	first := open(t, newManager(t, dir), repo, taskID)
	writeFile(t, filepath.Join(first.Dir, "README.md"), "work in progress\n")
	writeFile(t, filepath.Join(first.Dir, "new.txt"), "new\n")

	// The repository moves on meanwhile; the task keeps its base.
	writeFile(t, filepath.Join(repo, "other.txt"), "other\n")
	run(t, repo, "add", "-A")
	run(t, repo, "commit", "-q", "-m", "other")

	second := open(t, newManager(t, dir), repo, taskID)
	if second.Dir != first.Dir || second.Branch != first.Branch || second.Base != first.Base {
		t.Errorf("reopened %+v, want %+v", second, first)
	}
	if got := readFile(t, filepath.Join(second.Dir, "README.md")); got != "work in progress\n" {
		t.Errorf("README.md = %q: the worktree was not reused as it was", got)
	}
	if _, err := os.Stat(filepath.Join(second.Dir, "other.txt")); err == nil {
		t.Error("the reused worktree has a file committed to the repo after its base")
	}
}

func TestOpenAfterRemoveContinuesFromBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepo(t)
	m := newManager(t, "")
	ws := open(t, m, repo, taskID)
	writeFile(t, filepath.Join(ws.Dir, "done.txt"), "done\n")
	head, err := ws.Commit(ctx, "first attempt")
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Remove(ctx); err != nil {
		t.Fatal(err)
	}

	again := open(t, m, repo, taskID)
	if again.Base != ws.Base {
		t.Errorf("Base = %s after reopening, want the recorded %s", again.Base, ws.Base)
	}
	if got := run(t, again.Dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD = %s, want the branch's %s", got, head)
	}
	if got := readFile(t, filepath.Join(again.Dir, "done.txt")); got != "done\n" {
		t.Errorf("done.txt = %q", got)
	}
}

func TestOpenRefusesWhatIsNotARepository(t *testing.T) {
	t.Parallel()
	m := newManager(t, "")
	plain := t.TempDir()
	bare := filepath.Join(t.TempDir(), "bare.git")
	run(t, t.TempDir(), "init", "-q", "--bare", bare)
	for _, repo := range []string{plain, filepath.Join(plain, "missing"), bare, "relative/path"} {
		_, err := m.Open(context.Background(), repo, taskID)
		if err == nil || !strings.Contains(err.Error(), "is not a git repository") {
			t.Errorf("Open(%s) = %v, want an error saying it is not a git repository", repo, err)
		}
	}
}

func TestOpenRefusesEmptyRepository(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	run(t, repo, "init", "-q")
	_, err := newManager(t, "").Open(context.Background(), repo, taskID)
	if err == nil || !strings.Contains(err.Error(), "has no commits") {
		t.Errorf("Open(empty repo) = %v, want an error saying it has no commits", err)
	}
}

func TestOpenRefusesBadTaskID(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	m := newManager(t, "")
	for _, id := range []string{"", "../escape", "a/b", "--", "x y"} {
		if _, err := m.Open(context.Background(), repo, id); err == nil {
			t.Errorf("Open with task id %q succeeded", id)
		}
	}
}

func TestOpenWarnsAboutUncommittedChanges(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "README.md"), "dirty\n")
	ws := open(t, newManager(t, ""), repo, taskID)
	if len(ws.Warnings) != 1 || !strings.Contains(ws.Warnings[0], "uncommitted changes") {
		t.Fatalf("Warnings = %q, want one about uncommitted changes", ws.Warnings)
	}
	if got := readFile(t, filepath.Join(ws.Dir, "README.md")); got != "hello\nworld\n" {
		t.Errorf("worktree README.md = %q, want HEAD's content", got)
	}
}

func TestOpenRemovesStaleIndexLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepo(t)
	m := newManager(t, "")
	ws := open(t, m, repo, taskID)
	lock := run(t, ws.Dir, "rev-parse", "--path-format=absolute", "--git-path", "index.lock")
	writeFile(t, lock, "")
	writeFile(t, filepath.Join(ws.Dir, "a.txt"), "a\n")
	if _, err := ws.Commit(ctx, "blocked"); err == nil {
		t.Fatal("Commit succeeded with index.lock present; the test does not test anything")
	}

	ws = open(t, m, repo, taskID)
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("index.lock still there after Open: %v", err)
	}
	if head, err := ws.Commit(ctx, "after restart"); err != nil || head == "" {
		t.Fatalf("Commit after Open = %q, %v", head, err)
	}
}

func TestOpenRedoesIncompleteWorktree(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	m := newManager(t, "")
	ws := open(t, m, repo, taskID)
	// What a killed "git worktree add" leaves: the worktree locked while
	// initializing, and a partial checkout.
	gitDir := run(t, ws.Dir, "rev-parse", "--path-format=absolute", "--git-dir")
	writeFile(t, filepath.Join(gitDir, "locked"), "initializing")
	if err := os.Remove(filepath.Join(ws.Dir, "README.md")); err != nil {
		t.Fatal(err)
	}

	ws = open(t, m, repo, taskID)
	if got := readFile(t, filepath.Join(ws.Dir, "README.md")); got != "hello\nworld\n" {
		t.Errorf("README.md = %q after reopening an incomplete worktree", got)
	}
	if got := run(t, ws.Dir, "rev-parse", "--abbrev-ref", "HEAD"); got != ws.Branch {
		t.Errorf("worktree on %q, want %q", got, ws.Branch)
	}
}

func TestOpenConcurrentlyOnOneRepo(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	m := newManager(t, "")
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = m.Open(context.Background(), repo, fmt.Sprintf("task-%012d", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	branches := strings.Fields(run(t, repo, "branch", "--list", "task/*", "--format=%(refname:short)"))
	if len(branches) != n {
		t.Errorf("%d task branches, want %d: %v", len(branches), n, branches)
	}
}

func TestNewRequiresDir(t *testing.T) {
	t.Parallel()
	if _, err := workspace.New(workspace.Config{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("New without Dir = %v, want an error naming Dir", err)
	}
}
