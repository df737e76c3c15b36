// Package nodetest starts real in-process nodes for tests: an engine on a
// SQLite file in the test's temporary directory with the built-in agents,
// stopped when the test ends.
package nodetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/agent/shell"
	"github.com/coderclaw/coderclaw/internal/engine"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// Options adjust the node; the zero value is a sensible default.
type Options struct {
	// Dir holds the database; empty means t.TempDir(). Reusing a Dir with
	// the same NodeID models a restart.
	Dir    string
	NodeID string
	// MaxConcurrentTasks, LeaseDuration and HeartbeatInterval as in
	// engine.Config.
	MaxConcurrentTasks int
	LeaseDuration      time.Duration
	HeartbeatInterval  time.Duration
	Now                func() time.Time
	Logger             *slog.Logger
	// Agents replaces the default registry (Registry).
	Agents *agent.Registry
	// WorkDir replaces the default working directory root (Dir/work).
	WorkDir string
	// StopGrace is how long Stop lets executions finish before abandoning
	// them for recovery (default 500ms).
	StopGrace time.Duration
}

// Registry returns a registry with the built-in agents (shell, noop).
func Registry(t testing.TB) *agent.Registry {
	t.Helper()
	reg := agent.NewRegistry()
	if err := reg.Register(shell.Agent(), &shell.Executor{}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(agent.NoopAgent(), agent.Noop{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// OpenStore opens the store a node on dir uses; the caller closes it.
func OpenStore(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "coderclaw.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// Node is a started engine with its store.
type Node struct {
	*engine.Engine
	Store *sqlite.Store
	Dir   string

	grace    time.Duration
	stopOnce sync.Once
}

// New returns a started node with default options.
func New(t testing.TB) *Node {
	t.Helper()
	return Start(t, Options{})
}

// Start returns a started node; it is stopped at the end of the test
// unless Stop was called first.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Agents == nil {
		o.Agents = Registry(t)
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(o.Dir, "work")
	}
	ctx := context.Background()
	st := OpenStore(t, o.Dir)
	e, err := engine.New(engine.Config{
		Store: st, Agents: o.Agents, NodeID: o.NodeID,
		MaxConcurrentTasks: o.MaxConcurrentTasks, LeaseDuration: o.LeaseDuration,
		HeartbeatInterval: o.HeartbeatInterval, WorkDir: o.WorkDir,
		Now: o.Now, Logger: o.Logger, PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	if o.StopGrace == 0 {
		o.StopGrace = 500 * time.Millisecond
	}
	n := &Node{Engine: e, Store: st, Dir: o.Dir, grace: o.StopGrace}
	t.Cleanup(func() { n.Stop(t) })
	return n
}

// Stop stops the engine (abandoning what still runs after a short grace,
// as a node shutting down does) and closes the store. It is idempotent.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.grace)
		defer cancel()
		if err := n.Engine.Stop(ctx); err != nil {
			t.Errorf("stop engine: %v", err)
		}
		if err := n.Store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
}
