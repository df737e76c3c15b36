// Package engine is the in-process coderclaw.Runtime: it validates and
// persists submissions, schedules pending tasks onto a bounded pool of
// executors, holds their leases with heartbeats, fences every write of an
// execution with its attempt, delivers cancellation to running executors,
// resumes waiting tasks with Respond, recovers tasks whose executor died,
// and streams every task's event log to readers.
//
// Lifecycle: New, then Start (which first recovers the tasks this node held
// when it last stopped), then Stop. An Engine is safe for concurrent use.
// Every error its Runtime methods return for a condition a caller can act
// on is a *coderclaw.Error.
//
// The engine never imports a transport, a SQL driver or net/http; it sees
// persistence only through store.Store and agents only through the
// agent.Registry.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxConcurrentTasks = 10
	DefaultLeaseDuration      = 30 * time.Second
	DefaultHeartbeatInterval  = 10 * time.Second
	DefaultMaxAttempts        = 3
	DefaultPollInterval       = time.Second
)

// Config configures an Engine. Zero fields take the documented defaults.
type Config struct {
	// Store persists tasks and events. Required.
	Store store.Store
	// Agents resolves agent ids to executors. Required.
	Agents *agent.Registry
	// NodeID names this node as a lease owner. It must stay the same across
	// restarts of the node for restart recovery to find the tasks it held;
	// empty means a random id (recovery then waits for leases to lapse).
	NodeID string
	// MaxConcurrentTasks bounds the executions running at once (default 10).
	MaxConcurrentTasks int
	// LeaseDuration is how long a claim holds a task without a heartbeat
	// (default 30s); HeartbeatInterval is how often leases are renewed
	// (default 10s, less than LeaseDuration).
	LeaseDuration     time.Duration
	HeartbeatInterval time.Duration
	// MaxAttempts is the default number of executions a task gets before a
	// lost lease fails it instead of requeueing it (default 3).
	MaxAttempts int
	// PollInterval is how often the scheduler looks for work it was not
	// told about (tasks submitted elsewhere, leases that lapsed) and how
	// often streams re-read without a local notification (default 1s).
	PollInterval time.Duration
	// WorkDir holds the working directories of tasks that name no repo;
	// default os.TempDir()/coderclaw-work.
	WorkDir string
	// Mode and Version are reported by Status.
	Mode    string
	Version string
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer receives measurements; nil means none.
	Observer Observer
}

func (c Config) withDefaults() Config {
	if c.NodeID == "" {
		c.NodeID = "node-" + uuid.NewString()[:8]
	}
	if c.MaxConcurrentTasks == 0 {
		c.MaxConcurrentTasks = DefaultMaxConcurrentTasks
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = min(DefaultHeartbeatInterval, c.LeaseDuration/3)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), "coderclaw-work")
	}
	if c.Mode == "" {
		c.Mode = "local-only"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("engine config: Store is required")
	case c.Agents == nil:
		return errors.New("engine config: Agents is required")
	case c.MaxConcurrentTasks < 1 || c.MaxConcurrentTasks > 10000:
		return fmt.Errorf("engine config: MaxConcurrentTasks %d is outside [1, 10000]", c.MaxConcurrentTasks)
	case c.LeaseDuration < 0 || c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.LeaseDuration:
		return fmt.Errorf("engine config: HeartbeatInterval %s must be positive and below LeaseDuration %s", c.HeartbeatInterval, c.LeaseDuration)
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return fmt.Errorf("engine config: MaxAttempts %d is outside [1, 100]", c.MaxAttempts)
	case c.PollInterval < 0:
		return fmt.Errorf("engine config: PollInterval %s is negative", c.PollInterval)
	}
	return nil
}

// Engine is the in-process runtime.
type Engine struct {
	cfg    Config
	obs    Observer
	store  store.Store
	agents *agent.Registry
	log    *slog.Logger
	hub    *hub
	actor  string

	mu      sync.Mutex
	runs    map[string]*run // live executions by task id
	slots   int             // executions holding a slot
	state   int             // stateNew, stateStarted, stateStopped
	started time.Time

	wake     chan struct{} // scheduler: new work or a free slot
	stop     chan struct{} // closed by Stop: loops end
	loops    sync.WaitGroup
	runsWG   sync.WaitGroup
	runCtx   context.Context // parent of every execution
	abandon  context.CancelCauseFunc
	stopOnce sync.Once
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// errShutdown is the cause given to executions the node abandons when it
// stops; they are left active in the store for recovery.
var errShutdown = errors.New("node stopping")

// errLeaseLost is the cause given to an execution whose writes were refused.
var errLeaseLost = errors.New("lease lost")

// errCancelled is the cause given to an execution whose task was cancelled.
var errCancelled = errors.New("task cancelled")

var _ coderclaw.Runtime = (*Engine)(nil)

// New returns an engine that is not yet started.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Engine{
		cfg:     cfg,
		obs:     cfg.Observer,
		store:   cfg.Store,
		agents:  cfg.Agents,
		log:     cfg.Logger,
		hub:     newHub(),
		actor:   "engine:" + cfg.NodeID,
		runs:    map[string]*run{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		runCtx:  ctx,
		abandon: cancel,
	}, nil
}

// NodeID returns the lease owner name of this engine.
func (e *Engine) NodeID() string { return e.cfg.NodeID }

// Start recovers the tasks this node held when it last stopped, then starts
// scheduling. It returns once the engine accepts work.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.state != stateNew {
		e.mu.Unlock()
		return errors.New("engine: Start called twice")
	}
	e.state = stateStarted
	e.started = e.cfg.Now()
	e.mu.Unlock()

	if err := e.rescue(ctx, true); err != nil {
		return fmt.Errorf("start: recover tasks: %w", err)
	}
	e.loops.Add(3)
	go e.scheduleLoop()
	go e.heartbeatLoop()
	go e.rescueLoop()
	e.log.Info("engine started", "node", e.cfg.NodeID, "max_concurrent_tasks", e.cfg.MaxConcurrentTasks)
	return nil
}

// Stop stops claiming work and waits for running executions to finish until
// ctx ends; executions still running then are abandoned: their processes are
// killed and their tasks left active in the store, so a restart (or any node,
// once the lease lapses) requeues them. Nothing already stored is lost.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.state = stateStopped
		for _, r := range e.runs {
			if r.isWaiting() {
				// Its task is safely stored as waiting; Respond after the
				// restart replays the answers into a new execution.
				r.cancel(errShutdown)
			}
		}
		e.mu.Unlock()
		close(e.stop)
	})
	e.loops.Wait()
	done := make(chan struct{})
	go func() { e.runsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("engine stop: abandoning running tasks for recovery")
		e.abandon(errShutdown)
		<-done
	}
	e.abandon(errShutdown)
	e.hub.closeAll()
	return nil
}

func (e *Engine) stopped() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// workDir is the working directory of an execution of a task: its repo,
// or a scratch directory of its own attempt, so that an execution winding
// down never shares (or removes) the directory of the next.
func (e *Engine) workDir(t coderclaw.Task) string {
	if t.Repo != "" {
		return t.Repo
	}
	return filepath.Join(e.cfg.WorkDir, t.ID, strconv.Itoa(t.Attempt))
}

// publicError converts an error from the store or an executor into the
// contract's *coderclaw.Error, logging what does not leave the node.
func (e *Engine) publicError(op, id string, err error) error {
	var ce *coderclaw.Error
	var te *coderclaw.InvalidTransitionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, store.ErrNotFound):
		return coderclaw.Errorf(coderclaw.CodeNotFound, "task %q not found", id)
	case errors.As(err, &te):
		return coderclaw.Errorf(coderclaw.CodeConflict, "task %s: %s", id, te.Error())
	case errors.Is(err, store.ErrClosed):
		return coderclaw.Errorf(coderclaw.CodeUnavailable, "node is shutting down")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	e.log.Error(op, "task", id, "err", err)
	return coderclaw.Errorf(coderclaw.CodeInternal, "%s failed", op)
}

// Submit validates the request and stores a pending task.
func (e *Engine) Submit(ctx context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	if err := req.Validate(); err != nil {
		return coderclaw.Task{}, err
	}
	if _, _, err := e.agents.Lookup(req.AgentID); err != nil {
		return coderclaw.Task{}, err
	}
	if req.ParentID != "" {
		if _, err := e.store.Task(ctx, req.ParentID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return coderclaw.Task{}, coderclaw.Errorf(coderclaw.CodeInvalid, "parent_id: no task %q", req.ParentID)
			}
			return coderclaw.Task{}, e.publicError("submit", req.ParentID, err)
		}
	}
	if req.Repo != "" {
		if !filepath.IsAbs(req.Repo) {
			return coderclaw.Task{}, coderclaw.Errorf(coderclaw.CodeInvalid, "repo: %q is not an absolute path", req.Repo)
		}
		if fi, err := os.Stat(req.Repo); err != nil || !fi.IsDir() {
			return coderclaw.Task{}, coderclaw.Errorf(coderclaw.CodeInvalid, "repo: %q is not a directory on this node", req.Repo)
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return coderclaw.Task{}, e.publicError("submit", "", fmt.Errorf("new id: %w", err))
	}
	now := e.cfg.Now()
	maxAttempts := req.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = e.cfg.MaxAttempts
	}
	t := coderclaw.Task{
		ID: id.String(), Description: req.Description, Input: req.Input, AgentID: req.AgentID,
		Status: coderclaw.StatusPending, ParentID: req.ParentID, SessionID: req.SessionID,
		Project: req.Project, Repo: req.Repo, Labels: req.Labels, Metadata: req.Metadata,
		Priority: req.Priority, Attempt: 1, MaxAttempts: maxAttempts,
		CreatedAt: now, UpdatedAt: now,
	}
	if p, ok := coderclaw.PrincipalFrom(ctx); ok {
		t.Submitter = p
	}
	actor := "api"
	if req.SessionID != "" {
		actor = "session:" + req.SessionID
	}
	start := time.Now()
	t, err = e.store.CreateTask(ctx, t, actor)
	if err != nil {
		return coderclaw.Task{}, e.publicError("submit", t.ID, err)
	}
	e.obs.Submitted(time.Since(start))
	e.hub.notify(t.ID)
	e.signal()
	return t, nil
}

// Task returns a task with its children's states.
func (e *Engine) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	t, err := e.store.Task(ctx, id)
	if err != nil {
		return coderclaw.Task{}, e.publicError("get task", id, err)
	}
	page, err := e.store.Tasks(ctx, coderclaw.Filter{ParentID: id, Limit: coderclaw.MaxPageSize})
	if err != nil {
		return coderclaw.Task{}, e.publicError("list children", id, err)
	}
	for i := len(page.Tasks) - 1; i >= 0; i-- { // oldest child first
		c := page.Tasks[i]
		t.Children = append(t.Children, coderclaw.ChildTask{ID: c.ID, AgentID: c.AgentID, Status: c.Status, Progress: c.Progress, SessionID: c.SessionID})
	}
	return t, nil
}

// Tasks lists tasks.
func (e *Engine) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	if err := f.Validate(); err != nil {
		return coderclaw.TaskPage{}, err
	}
	page, err := e.store.Tasks(ctx, f)
	if err != nil {
		return coderclaw.TaskPage{}, e.publicError("list tasks", "", err)
	}
	if page.Tasks == nil {
		page.Tasks = []coderclaw.Task{}
	}
	return page, nil
}

// Events returns a task's whole history.
func (e *Engine) Events(ctx context.Context, id string) ([]coderclaw.Event, error) {
	evs, err := e.store.Events(ctx, id, 0, 0)
	if err != nil {
		return nil, e.publicError("list events", id, err)
	}
	if evs == nil {
		evs = []coderclaw.Event{}
	}
	return evs, nil
}

// streamPage bounds one read of a stream.
const streamPage = 512

// Stream yields a task's events after afterSeq, waiting for new ones, until
// the terminal event. A slow reader only slows itself: it reads from the
// store at its own pace, and the engine never waits for it.
func (e *Engine) Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
		if afterSeq < 0 {
			yield(coderclaw.Event{}, coderclaw.Errorf(coderclaw.CodeInvalid, "after: sequence %d is negative", afterSeq))
			return
		}
		w := e.hub.watch(id)
		defer e.hub.unwatch(id, w)
		e.obs.StreamStarted()
		defer e.obs.StreamEnded()
		var poll <-chan time.Time
		if e.cfg.PollInterval > 0 {
			tk := time.NewTicker(e.cfg.PollInterval)
			defer tk.Stop()
			poll = tk.C
		}
		last := afterSeq
		for {
			changed := w.changed() // taken before reading: no lost wake-up
			evs, err := e.store.Events(ctx, id, last, streamPage)
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(coderclaw.Event{}, e.publicError("stream", id, err))
				return
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
				last = ev.Seq
				if ev.Terminal() {
					return
				}
			}
			if len(evs) == streamPage {
				continue
			}
			if len(evs) == 0 && last > 0 {
				// The task may have ended before afterSeq: nothing more will come.
				t, err := e.store.Task(ctx, id)
				if err == nil && t.Status.Terminal() && t.LastSeq <= last {
					return
				}
			}
			select {
			case <-changed:
			case <-poll:
			case <-ctx.Done():
				yield(coderclaw.Event{}, ctx.Err())
				return
			case <-e.hub.closed:
				yield(coderclaw.Event{}, coderclaw.Errorf(coderclaw.CodeUnavailable, "node is shutting down"))
				return
			}
		}
	}
}

// Cancel cancels a task that has not finished and stops its executor.
func (e *Engine) Cancel(ctx context.Context, id string) (coderclaw.Task, error) {
	msg := "cancelled by request"
	t, err := e.transition(ctx, store.Transition{
		TaskID: id, To: coderclaw.StatusCancelled, Cause: coderclaw.ByRequest,
		Error: &msg, Actor: "api", Message: msg, Now: e.cfg.Now(),
	})
	if err != nil {
		return coderclaw.Task{}, e.publicError("cancel", id, err)
	}
	e.hub.notify(id)
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		r.cancel(errCancelled)
	}
	return t, nil
}

// Respond answers a waiting task's question and resumes it: the execution
// waiting for the answer gets it, or, when none is alive here (the node
// restarted while the task waited), a new execution replays the answers.
func (e *Engine) Respond(ctx context.Context, id string, input string) (coderclaw.Task, error) {
	if len(input) > coderclaw.MaxInputBytes {
		return coderclaw.Task{}, coderclaw.Errorf(coderclaw.CodeInvalid, "input: %d bytes exceeds the limit of %d", len(input), coderclaw.MaxInputBytes)
	}
	if e.stopped() {
		return coderclaw.Task{}, coderclaw.Errorf(coderclaw.CodeUnavailable, "node is shutting down")
	}
	now := e.cfg.Now()
	t, err := e.transition(ctx, store.Transition{
		TaskID: id, To: coderclaw.StatusRunning, Cause: coderclaw.ByRequest,
		LeaseOwner: e.cfg.NodeID, LeaseUntil: now.Add(e.cfg.LeaseDuration),
		Events: []store.NewEvent{{Type: coderclaw.EventInput, Actor: "api", Message: input, Time: now}},
		Actor:  "api", Message: "resumed with an answer", Now: now,
	})
	if err != nil {
		return coderclaw.Task{}, e.publicError("respond", id, err)
	}
	e.hub.notify(id)
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil && r.deliver(input) {
		return t, nil
	}
	// No execution waits here for the answer: start one that replays.
	e.mu.Lock()
	e.slots++
	e.mu.Unlock()
	e.runsWG.Add(1)
	go e.execute(t)
	return t, nil
}

// transition stores a transition and reports it to the observer.
func (e *Engine) transition(ctx context.Context, tr store.Transition) (coderclaw.Task, error) {
	start := time.Now()
	t, err := e.store.Transition(ctx, tr)
	if err == nil {
		e.obs.Transitioned(tr.To, 1, time.Since(start))
	}
	return t, err
}

// Agents lists the agents.
func (e *Engine) Agents(context.Context) ([]coderclaw.Agent, error) { return e.agents.Agents(), nil }

// Skills lists the skills.
func (e *Engine) Skills(context.Context) ([]coderclaw.Skill, error) { return e.agents.Skills(), nil }

// Status reports the node's health.
func (e *Engine) Status(ctx context.Context) (coderclaw.NodeStatus, error) {
	e.mu.Lock()
	running, started := e.slots, e.started
	e.mu.Unlock()
	st := coderclaw.NodeStatus{
		NodeID: e.cfg.NodeID, Mode: e.cfg.Mode, Version: e.cfg.Version,
		StartedAt: started, Uptime: coderclaw.Duration(e.cfg.Now().Sub(started).Round(time.Second)),
		Running: running, Workers: e.cfg.MaxConcurrentTasks,
		Store: coderclaw.StoreHealth{Backend: backendName(e.store), OK: true},
	}
	if started.IsZero() {
		st.Uptime = 0
	}
	counts, err := e.store.Counts(ctx)
	if err == nil {
		err = e.store.Ping(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return coderclaw.NodeStatus{}, ctx.Err()
		}
		e.log.Error("status: store unhealthy", "err", err)
		st.Store.OK, st.Store.Error = false, "store unavailable"
		return st, nil
	}
	st.Tasks = counts
	st.QueueDepth = counts[coderclaw.StatusPending]
	return st, nil
}

func backendName(s store.Store) string {
	if n, ok := s.(interface{ Backend() string }); ok {
		return n.Backend()
	}
	return fmt.Sprintf("%T", s)
}
