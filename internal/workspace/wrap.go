package workspace

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
)

// FinishTimeout bounds what Wrap does after the executor returned: the
// diff, the commit and the removal of the worktree.
const FinishTimeout = 30 * time.Second

// maxSubject bounds the first line of a task's commit message, in runes.
const maxSubject = 72

// Wrap returns an executor that runs ex in the workspace of tasks that
// name a repository (Task.Repo); other tasks run ex unchanged.
//
// For a task with a repository it opens the workspace (a repository that
// is not a git repository, or has no commit, fails the task without
// running ex), logs its warnings on the stderr stream, and runs ex with a
// Run whose Dir is the worktree. Whatever ex returns, also when it failed
// or its context ended, it then records the changes with a context of its
// own bounded by FinishTimeout: one EventDiff event holding the diff since
// the base and its DiffSummary, a commit of the changes on the task
// branch, and the removal of the worktree directory (the branch stays).
// When it cannot save the changes it keeps the worktree and, if ex
// succeeded, fails the task with why.
func Wrap(m *Manager, ex agent.Executor) agent.Executor {
	return agent.ExecutorFunc(func(ctx context.Context, run agent.Run) (string, error) {
		task := run.Task()
		if task.Repo == "" {
			return ex.Execute(ctx, run)
		}
		ws, err := m.Open(ctx, task.Repo, task.ID)
		if err != nil {
			return "", err
		}
		for _, w := range ws.Warnings {
			m.log.Warn(w, "task", task.ID)
			run.Log("stderr", "coderclaw: "+w)
		}
		out, runErr := ex.Execute(ctx, dirRun{Run: run, dir: ws.Dir})

		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FinishTimeout)
		defer cancel()
		if err := finish(fctx, ws, task, run); err != nil {
			m.log.Error("saving the workspace failed; its worktree is kept", "task", task.ID, "dir", ws.Dir, "error", err)
			run.Log("stderr", "coderclaw: "+err.Error())
			if runErr == nil {
				return out, err
			}
		}
		return out, runErr
	})
}

// finish records the diff, commits it and removes the worktree. The diff
// is recorded even when the commit fails; the worktree is removed only
// once its changes are committed.
func finish(ctx context.Context, ws *Workspace, task coderclaw.Task, run agent.Run) error {
	diff, sum, err := ws.Diff(ctx)
	if err != nil {
		return fmt.Errorf("save the task's changes: %w", err)
	}
	head, commitErr := ws.Commit(ctx, CommitMessage(task))
	if head != "" {
		sum.Head = head
	}
	run.Record(coderclaw.EventDiff, diff, sum)
	if commitErr != nil {
		return fmt.Errorf("save the task's changes: %w", commitErr)
	}
	if err := ws.Remove(ctx); err != nil {
		return fmt.Errorf("remove the task's worktree (its changes are on branch %s): %w", ws.Branch, err)
	}
	return nil
}

// CommitMessage is the message of the commit holding a task's changes:
// "coderclaw: " and the task's description (else the first line of its
// input), then the task id.
func CommitMessage(task coderclaw.Task) string {
	subject := strings.TrimSpace(task.Description)
	if subject == "" {
		subject, _, _ = strings.Cut(strings.TrimSpace(task.Input), "\n")
		subject = strings.TrimSpace(subject)
	}
	subject = strings.Join(strings.Fields(subject), " ")
	if utf8.RuneCountInString(subject) > maxSubject {
		r := []rune(subject)
		subject = strings.TrimSpace(string(r[:maxSubject-1])) + "…"
	}
	if subject == "" {
		subject = "task changes"
	}
	return "coderclaw: " + subject + "\n\nTask: " + task.ID + "\n"
}

// dirRun is a Run whose working directory is the task's worktree.
type dirRun struct {
	agent.Run
	dir string
}

func (r dirRun) Dir() string { return r.dir }
