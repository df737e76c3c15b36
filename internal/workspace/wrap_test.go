package workspace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

// testRun is an agent.Run that keeps what the executor reports.
type testRun struct {
	task coderclaw.Task
	dir  string

	mu      sync.Mutex
	logs    []string
	records []record
}

type record struct {
	typ     coderclaw.EventType
	message string
	data    any
}

var _ agent.Run = (*testRun)(nil)

func (r *testRun) Task() coderclaw.Task { return r.task }
func (r *testRun) Dir() string          { return r.dir }
func (r *testRun) Progress(int)         {}
func (r *testRun) Log(stream, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, stream+": "+line)
}
func (r *testRun) Ask(context.Context, string) (string, error) {
	return "", errors.New("no questions in this test")
}
func (r *testRun) Record(typ coderclaw.EventType, message string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, record{typ, message, data})
}
func (r *testRun) History(context.Context) ([]coderclaw.Event, error) { return nil, nil }

// diffRecord returns the one diff event the run recorded.
func (r *testRun) diffRecord(t *testing.T) (string, coderclaw.DiffSummary) {
	t.Helper()
	var found []record
	for _, rec := range r.records {
		if rec.typ == coderclaw.EventDiff {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("recorded %d diff events, want 1: %+v", len(found), r.records)
	}
	sum, ok := found[0].data.(coderclaw.DiffSummary)
	if !ok {
		t.Fatalf("diff event data is %T, want coderclaw.DiffSummary", found[0].data)
	}
	return found[0].message, sum
}

func TestWrapRunsTaskInWorktreeAndKeepsResultOnBranch(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "README.md"), "uncommitted\n")
	m := newManager(t, "")
	var sawDir string
	ex := workspace.Wrap(m, agent.ExecutorFunc(func(ctx context.Context, run agent.Run) (string, error) {
		sawDir = run.Dir()
		writeFile(t, filepath.Join(run.Dir(), "feature.go"), "package feature\n")
		return "done", nil
	}))
	tr := &testRun{task: coderclaw.Task{ID: taskID, Repo: repo, Input: "add a feature\nwith details"}, dir: "/scratch"}

	out, err := ex.Execute(context.Background(), tr)
	if err != nil || out != "done" {
		t.Fatalf("Execute = %q, %v", out, err)
	}
	if want := filepath.Join(m.Dir(), taskID); sawDir != want {
		t.Errorf("executor ran in %q, want the worktree %q", sawDir, want)
	}
	if len(tr.logs) != 1 || !strings.Contains(tr.logs[0], "uncommitted changes") || !strings.HasPrefix(tr.logs[0], "stderr: ") {
		t.Errorf("logs = %q, want the dirty-repo warning on stderr", tr.logs)
	}
	diff, sum := tr.diffRecord(t)
	if !strings.Contains(diff, "+package feature") {
		t.Errorf("diff = %q", diff)
	}
	branch := "task/" + workspace.ShortID(taskID)
	head := run(t, repo, "rev-parse", branch)
	if sum.Branch != branch || sum.Head != head || sum.Files != 1 || sum.Additions != 1 || sum.Base == "" {
		t.Errorf("summary = %+v, want branch %s at %s with 1 file, 1 addition", sum, branch, head)
	}
	if msg := run(t, repo, "log", "-1", "--format=%B", branch); msg != "coderclaw: add a feature\n\nTask: "+taskID {
		t.Errorf("commit message = %q", msg)
	}
	if _, err := os.Stat(sawDir); !os.IsNotExist(err) {
		t.Errorf("worktree not removed: %v", err)
	}
}

func TestWrapSavesChangesOfFailedAndCancelledTasks(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"failed", "cancelled"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			m := newManager(t, "")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			boom := errors.New("boom")
			ex := workspace.Wrap(m, agent.ExecutorFunc(func(ctx context.Context, run agent.Run) (string, error) {
				writeFile(t, filepath.Join(run.Dir(), "partial.txt"), "partial\n")
				if name == "failed" {
					return "", boom
				}
				cancel()
				<-ctx.Done()
				return "", ctx.Err()
			}))
			tr := &testRun{task: coderclaw.Task{ID: taskID, Repo: repo, Description: "try something"}}
			_, err := ex.Execute(ctx, tr)
			if name == "failed" && !errors.Is(err, boom) || name == "cancelled" && !errors.Is(err, context.Canceled) {
				t.Fatalf("Execute error = %v, want the executor's", err)
			}
			_, sum := tr.diffRecord(t)
			if sum.Files != 1 || sum.Head == "" {
				t.Errorf("summary = %+v, want the partial work committed", sum)
			}
			if got := run(t, repo, "show", sum.Head+":partial.txt"); got != "partial" {
				t.Errorf("partial.txt on the branch = %q", got)
			}
			if msg := run(t, repo, "log", "-1", "--format=%s", sum.Head); msg != "coderclaw: try something" {
				t.Errorf("commit subject = %q", msg)
			}
		})
	}
}

func TestWrapWithoutChangesRecordsEmptyDiff(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	ex := workspace.Wrap(newManager(t, ""), agent.ExecutorFunc(func(context.Context, agent.Run) (string, error) {
		return "nothing to do", nil
	}))
	tr := &testRun{task: coderclaw.Task{ID: taskID, Repo: repo, Input: "look"}}
	if _, err := ex.Execute(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	diff, sum := tr.diffRecord(t)
	if diff != "" || sum.Files != 0 || sum.Head != "" {
		t.Errorf("diff %q, summary %+v, want none", diff, sum)
	}
	if got := run(t, repo, "rev-parse", "task/"+workspace.ShortID(taskID)); got != sum.Base {
		t.Errorf("branch moved to %s without changes", got)
	}
}

func TestWrapFailsTaskOfNonRepository(t *testing.T) {
	t.Parallel()
	ran := false
	ex := workspace.Wrap(newManager(t, ""), agent.ExecutorFunc(func(context.Context, agent.Run) (string, error) {
		ran = true
		return "", nil
	}))
	notRepo := t.TempDir()
	_, err := ex.Execute(context.Background(), &testRun{task: coderclaw.Task{ID: taskID, Repo: notRepo}})
	if err == nil || !strings.Contains(err.Error(), "is not a git repository") {
		t.Errorf("Execute = %v, want an error saying it is not a git repository", err)
	}
	if ran {
		t.Error("the executor ran for a task whose repo is not a git repository")
	}
}

func TestWrapLeavesTaskWithoutRepoAlone(t *testing.T) {
	t.Parallel()
	var sawDir string
	ex := workspace.Wrap(newManager(t, ""), agent.ExecutorFunc(func(ctx context.Context, run agent.Run) (string, error) {
		sawDir = run.Dir()
		return "ok", nil
	}))
	tr := &testRun{task: coderclaw.Task{ID: taskID}, dir: "/scratch/" + taskID}
	if out, err := ex.Execute(context.Background(), tr); err != nil || out != "ok" {
		t.Fatalf("Execute = %q, %v", out, err)
	}
	if sawDir != tr.dir {
		t.Errorf("Dir = %q, want the run's own %q", sawDir, tr.dir)
	}
	if len(tr.records) != 0 {
		t.Errorf("recorded %+v for a task without a repo", tr.records)
	}
}

func TestCommitMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 30)
	for _, tc := range []struct {
		task coderclaw.Task
		want string
	}{
		{coderclaw.Task{ID: "t1", Description: "Fix the bug", Input: "ignored"}, "coderclaw: Fix the bug\n\nTask: t1\n"},
		{coderclaw.Task{ID: "t2", Input: "\n  first line  \nsecond"}, "coderclaw: first line\n\nTask: t2\n"},
		{coderclaw.Task{ID: "t3"}, "coderclaw: task changes\n\nTask: t3\n"},
		{coderclaw.Task{ID: "t4", Description: long}, "coderclaw: " + strings.TrimSpace(long[:71]) + "…\n\nTask: t4\n"},
	} {
		if got := workspace.CommitMessage(tc.task); got != tc.want {
			t.Errorf("CommitMessage(%+v) = %q, want %q", tc.task, got, tc.want)
		}
	}
}
