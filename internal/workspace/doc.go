// Package workspace gives every coding task its own git worktree and
// confines what agents do to it.
//
// A task that names a repository (Task.Repo) works in a linked worktree
// <Config.Dir>/<task id> on branch task/<short id>, started from the
// repository's HEAD commit (its Base). Manager.Open creates the worktree, or
// reuses it when the task runs again after a restart; Workspace.Diff shows
// everything changed since Base, Workspace.Commit records it on the task
// branch, and Workspace.Remove deletes the worktree directory while the
// branch keeps the result. Wrap does all of that around an agent.Executor.
//
// Resolve confines a path a model gave to a workspace, refusing `..`,
// absolute paths elsewhere, symbolic links that lead out and the worktree's
// .git entry. Sandbox starts the commands skills run, confined with
// bubblewrap or Landlock where the machine offers one.
//
// The base commit of each task is recorded in <Config.Dir>/<task id>.json,
// outside the worktree, so that it survives Remove: a task re-run after its
// worktree was removed continues from its branch with its original base.
//
// Concurrency: a Manager is safe for concurrent use and serialises the git
// operations that change a repository's shared state (worktree add and
// remove, commits) with one mutex per repository. A Workspace is used by
// one task at a time. Errors name the repository, path or command that
// failed; those from Resolve are meant to be shown to the model.
package workspace
