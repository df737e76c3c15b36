package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// BranchPrefix starts the name of every task branch.
const BranchPrefix = "task/"

// shortIDLen is how many hex digits of a task id name its branch: the last
// ones, since a UUIDv7 starts with a timestamp that tasks submitted
// together share.
const shortIDLen = 12

// Config configures a Manager.
type Config struct {
	// Dir is where worktrees live, one directory per task, such as
	// <home>/worktrees. Required.
	Dir string
	// Logger receives what the manager does; nil discards.
	Logger *slog.Logger
	// Sandbox configures the sandbox of the commands skills run in the
	// workspaces; see NewSandbox.
	Sandbox SandboxConfig
}

// Manager opens the workspaces of tasks. It is safe for concurrent use;
// the zero value is not usable, use New.
type Manager struct {
	dir     string
	log     *slog.Logger
	sandbox *Sandbox

	mu    sync.Mutex
	repos map[string]*sync.Mutex // by repository top-level directory
}

// New returns a manager keeping worktrees under cfg.Dir, which it creates,
// and the sandbox cfg.Sandbox describes.
func New(cfg Config) (*Manager, error) {
	if cfg.Dir == "" {
		return nil, errors.New("workspace config: Dir is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("workspace config: Dir %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("workspace config: Dir: %w", err)
	}
	// Worktree paths without symbolic links compare equal to what git and
	// Resolve return.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("workspace config: Dir: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sb, err := NewSandbox(cfg.Sandbox, log)
	if err != nil {
		return nil, err
	}
	return &Manager{dir: dir, log: log, sandbox: sb, repos: map[string]*sync.Mutex{}}, nil
}

// Sandbox returns the sandbox for commands run in the manager's
// workspaces.
func (m *Manager) Sandbox() *Sandbox { return m.sandbox }

// Dir returns the directory the worktrees live in.
func (m *Manager) Dir() string { return m.dir }

// repoLock returns the mutex serialising git operations on the repository
// whose top-level directory is top.
func (m *Manager) repoLock(top string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.repos[top]
	if !ok {
		l = &sync.Mutex{}
		m.repos[top] = l
	}
	return l
}

// Workspace is the git worktree of one task.
type Workspace struct {
	// Repo is the top-level directory of the repository.
	Repo string
	// Dir is the root of the worktree.
	Dir string
	// Branch is the task branch checked out in Dir.
	Branch string
	// Base is the commit the branch started from.
	Base string
	// Warnings say what the caller should tell the user, such as
	// uncommitted changes of Repo that the worktree does not have.
	Warnings []string

	lock *sync.Mutex
	log  *slog.Logger
}

// meta is what the manager records of a task's workspace, outside the
// worktree so that it outlives Remove.
type meta struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Base   string `json:"base"`
}

// ShortID returns the part of a task id that names its branch: the last 12
// hex digits with dashes removed (all of them when there are fewer).
func ShortID(taskID string) string {
	s := strings.ReplaceAll(taskID, "-", "")
	if len(s) > shortIDLen {
		s = s[len(s)-shortIDLen:]
	}
	return strings.ToLower(s)
}

// validTaskID reports whether id can name a directory and a branch.
func validTaskID(id string) bool {
	if id == "" || len(id) > 128 || strings.Trim(id, "-") == "" {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// Open returns the workspace of task taskID in repository repo: a worktree
// <Dir>/<taskID> on branch task/<ShortID(taskID)> started from repo's HEAD
// commit. When the task has a workspace already (it runs again after a
// restart), Open reuses it as it is: its directory, branch and base; a
// worktree directory that was removed is checked out again from the
// branch. A stale index.lock left by a git command that was killed is
// removed, since no git command of the task runs while it is opened.
//
// Open fails when repo is not a git work tree ("repo ... is not a git
// repository") or has no commit. Uncommitted changes in repo are not
// carried over; Workspace.Warnings says so.
func (m *Manager) Open(ctx context.Context, repo, taskID string) (*Workspace, error) {
	if !validTaskID(taskID) {
		return nil, fmt.Errorf("open workspace: invalid task id %q", taskID)
	}
	top, err := toplevel(ctx, repo)
	if err != nil {
		return nil, err
	}
	lock := m.repoLock(top)
	lock.Lock()
	defer lock.Unlock()

	ws := &Workspace{
		Repo:   top,
		Dir:    filepath.Join(m.dir, taskID),
		Branch: BranchPrefix + ShortID(taskID),
		lock:   lock,
		log:    m.log.With("task", taskID, "repo", top),
	}
	md, err := m.loadMeta(taskID)
	switch {
	case err != nil:
		return nil, err
	case md != nil && md.Repo != top:
		return nil, fmt.Errorf("open workspace: task %s already has a workspace of repo %s, not %s", taskID, md.Repo, top)
	case md != nil:
		ws.Branch, ws.Base = md.Branch, md.Base
	default:
		head, err := git(ctx, top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
		if err != nil || head == "" {
			return nil, fmt.Errorf("repo %s has no commits; commit something first", top)
		}
		ws.Base = head
		if err := m.saveMeta(taskID, meta{Repo: top, Branch: ws.Branch, Base: ws.Base}); err != nil {
			return nil, err
		}
	}

	reused, err := m.checkout(ctx, ws)
	if err != nil {
		return nil, err
	}
	if !reused {
		dirty, err := git(ctx, top, "status", "--porcelain")
		if err != nil {
			return nil, fmt.Errorf("open workspace: status of %s: %w", top, err)
		}
		if dirty != "" {
			ws.Warnings = append(ws.Warnings, fmt.Sprintf(
				"repo %s has uncommitted changes; the task's worktree starts from commit %s without them", top, ws.Base))
		}
	}
	return ws, nil
}

// checkout makes ws.Dir a worktree of ws.Repo on ws.Branch, reusing one
// that is there, and reports whether it did reuse one.
func (m *Manager) checkout(ctx context.Context, ws *Workspace) (bool, error) {
	st, err := m.inspect(ctx, ws)
	if err != nil {
		return false, err
	}
	switch st {
	case worktreeOK:
		if err := m.removeStaleLock(ctx, ws); err != nil {
			return true, err
		}
		ws.log.Info("reusing workspace", "dir", ws.Dir, "branch", ws.Branch, "base", ws.Base)
		return true, nil
	case worktreeBroken:
		// A worktree add that was killed leaves a partial checkout; start
		// it again from the branch.
		ws.log.Warn("removing incomplete workspace", "dir", ws.Dir)
		if _, err := gitRetry(ctx, ws.Repo, "worktree", "remove", "--force", "--force", ws.Dir); err != nil {
			if err := os.RemoveAll(ws.Dir); err != nil {
				return false, fmt.Errorf("open workspace: remove incomplete %s: %w", ws.Dir, err)
			}
		}
	}
	if _, err := gitRetry(ctx, ws.Repo, "worktree", "prune"); err != nil {
		return false, fmt.Errorf("open workspace: %w", err)
	}
	args := []string{"worktree", "add", "--quiet"}
	if _, err := git(ctx, ws.Repo, "rev-parse", "--verify", "--quiet", "refs/heads/"+ws.Branch); err == nil {
		args = append(args, ws.Dir, ws.Branch)
	} else {
		args = append(args, "-b", ws.Branch, ws.Dir, ws.Base)
	}
	if _, err := gitRetry(ctx, ws.Repo, args...); err != nil {
		return false, fmt.Errorf("open workspace of %s: %w", ws.Repo, err)
	}
	ws.log.Info("created workspace", "dir", ws.Dir, "branch", ws.Branch, "base", ws.Base)
	return false, nil
}

type worktreeState int

const (
	worktreeMissing worktreeState = iota
	worktreeOK
	worktreeBroken
)

// inspect tells whether ws.Dir holds a complete worktree of ws.Repo.
func (m *Manager) inspect(ctx context.Context, ws *Workspace) (worktreeState, error) {
	if _, err := os.Lstat(ws.Dir); errors.Is(err, fs.ErrNotExist) {
		return worktreeMissing, nil
	} else if err != nil {
		return 0, fmt.Errorf("open workspace: %w", err)
	}
	top, err := git(ctx, ws.Dir, "rev-parse", "--show-toplevel")
	if err != nil || !samePath(top, ws.Dir) {
		return worktreeBroken, nil
	}
	common, err := git(ctx, ws.Dir, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return worktreeBroken, nil
	}
	repoCommon, err := git(ctx, ws.Repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return 0, fmt.Errorf("open workspace: %w", err)
	}
	if !samePath(common, repoCommon) {
		return 0, fmt.Errorf("open workspace: %s is a worktree of another repository than %s", ws.Dir, ws.Repo)
	}
	// git worktree add locks the worktree while it checks out and unlocks
	// it when done; a lock left behind means it was killed mid-way.
	gitDir, err := git(ctx, ws.Dir, "rev-parse", "--path-format=absolute", "--git-dir")
	if err != nil {
		return worktreeBroken, nil
	}
	if _, err := os.Stat(filepath.Join(gitDir, "locked")); err == nil {
		return worktreeBroken, nil
	}
	return worktreeOK, nil
}

// removeStaleLock removes the index.lock a killed git command left in the
// worktree's git directory.
func (m *Manager) removeStaleLock(ctx context.Context, ws *Workspace) error {
	lockPath, err := git(ctx, ws.Dir, "rev-parse", "--path-format=absolute", "--git-path", "index.lock")
	if err != nil {
		return fmt.Errorf("open workspace: %w", err)
	}
	switch err := os.Remove(lockPath); {
	case err == nil:
		ws.log.Warn("removed stale index.lock of a killed git command", "path", lockPath)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open workspace: remove stale %s: %w", lockPath, err)
	}
	return nil
}

// toplevel returns the top-level directory of the work tree repo is in,
// with symbolic links resolved.
func toplevel(ctx context.Context, repo string) (string, error) {
	if repo == "" || !filepath.IsAbs(repo) {
		return "", fmt.Errorf("repo %q is not a git repository: not an absolute path", repo)
	}
	fi, err := os.Stat(repo)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("repo %s is not a git repository: not a directory", repo)
	}
	top, err := git(ctx, repo, "rev-parse", "--show-toplevel")
	if err != nil || top == "" {
		if ctx.Err() != nil {
			return "", fmt.Errorf("open workspace of %s: %w", repo, ctx.Err())
		}
		return "", fmt.Errorf("repo %s is not a git repository", repo)
	}
	real, err := filepath.EvalSymlinks(top)
	if err != nil {
		return "", fmt.Errorf("repo %s: %w", repo, err)
	}
	return real, nil
}

// samePath reports whether a and b name the same directory.
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func (m *Manager) metaPath(taskID string) string {
	return filepath.Join(m.dir, taskID+".json")
}

// loadMeta returns the recorded workspace of a task, or nil.
func (m *Manager) loadMeta(taskID string) (*meta, error) {
	b, err := os.ReadFile(m.metaPath(taskID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open workspace: read %w", err)
	}
	var md meta
	if err := json.Unmarshal(b, &md); err != nil || md.Repo == "" || md.Base == "" || md.Branch == "" {
		// A file cut short by a crash before the worktree existed: start
		// over.
		m.log.Warn("ignoring unreadable workspace record", "path", m.metaPath(taskID), "error", err)
		return nil, nil
	}
	return &md, nil
}

// saveMeta records a task's workspace atomically.
func (m *Manager) saveMeta(taskID string, md meta) error {
	b, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("open workspace: %w", err)
	}
	tmp, err := os.CreateTemp(m.dir, taskID+".json.*")
	if err != nil {
		return fmt.Errorf("open workspace: record base: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("open workspace: record base: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("open workspace: record base: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("open workspace: record base: %w", err)
	}
	if err := os.Rename(tmp.Name(), m.metaPath(taskID)); err != nil {
		return fmt.Errorf("open workspace: record base: %w", err)
	}
	return nil
}
