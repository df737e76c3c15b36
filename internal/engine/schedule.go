package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// scheduleLoop claims pending tasks while slots are free and starts an
// execution for each. It wakes on a submission, a freed slot, or the poll
// interval (work it was not told about: other nodes, requeued tasks).
func (e *Engine) scheduleLoop() {
	defer e.loops.Done()
	var poll <-chan time.Time
	if e.cfg.PollInterval > 0 {
		tk := time.NewTicker(e.cfg.PollInterval)
		defer tk.Stop()
		poll = tk.C
	}
	for {
		full := e.claimOnce()
		if full {
			continue // every slot we asked for was filled: there may be more
		}
		select {
		case <-e.stop:
			return
		case <-e.wake:
		case <-poll:
		}
	}
}

// claimOnce claims as many tasks as there are free slots and starts them.
// It reports whether it filled every free slot it asked for.
func (e *Engine) claimOnce() bool {
	if e.stopped() {
		return false
	}
	e.mu.Lock()
	free := e.cfg.MaxConcurrentTasks - e.slots
	e.slots += max(free, 0) // reserve; unused ones are returned below
	e.mu.Unlock()
	if free <= 0 {
		return false
	}
	now := e.cfg.Now()
	start := time.Now()
	tasks, err := e.store.Claim(context.Background(), store.Claim{
		Owner: e.cfg.NodeID, Limit: free, Now: now,
		LeaseUntil: now.Add(e.cfg.LeaseDuration), Actor: e.actor,
	})
	e.mu.Lock()
	e.slots -= free - len(tasks)
	e.mu.Unlock()
	if err != nil {
		if !errors.Is(err, store.ErrClosed) {
			e.log.Error("claim tasks", "err", err)
		}
		return false
	}
	if len(tasks) > 0 {
		e.obs.Transitioned(coderclaw.StatusRunning, len(tasks), time.Since(start))
	}
	e.runsWG.Add(len(tasks))
	for _, t := range tasks {
		e.hub.notify(t.ID)
		go e.execute(t)
	}
	return len(tasks) == free
}

// releaseSlot gives back an execution's slot and wakes the scheduler.
func (e *Engine) releaseSlot() {
	e.mu.Lock()
	e.slots--
	e.mu.Unlock()
	e.signal()
}

// execute runs one execution of a claimed (or resumed) task to its end and
// records the outcome, fenced by the task's attempt. It holds a slot, taken
// by its starter, and releases it when done.
func (e *Engine) execute(t coderclaw.Task) {
	defer e.runsWG.Done()
	r := newRun(e, t)
	e.mu.Lock()
	if old := e.runs[t.ID]; old != nil {
		// An earlier execution of the task still winds down here: its lease
		// was lost and the task claimed again. Its writes are refused
		// already; stop its work too.
		old.cancel(errLeaseLost)
	}
	e.runs[t.ID] = r
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.runs[t.ID] == r {
			delete(e.runs, t.ID)
		}
		e.mu.Unlock()
		if !r.isWaiting() {
			e.releaseSlot()
		}
	}()

	output, runErr := e.invoke(r)
	r.stopFlusher()
	e.cleanWorkDir(t) // before the result is stored: a reader of it sees the end
	if cause := context.Cause(r.ctx); r.ctx.Err() != nil {
		e.log.Debug("execution ended without a result", "task", t.ID, "attempt", t.Attempt, "cause", cause)
		return // cancelled, lease lost or node stopping: nothing to record
	}
	tr := store.Transition{
		TaskID: t.ID, Attempt: t.Attempt, Cause: coderclaw.ByRequest,
		Events: r.takePending(), Actor: e.actor, Now: e.cfg.Now(),
	}
	if output != "" {
		tr.Output = &output
		tr.Events = append(tr.Events, store.NewEvent{Type: coderclaw.EventOutput, Actor: t.AgentID, Message: output, Time: tr.Now})
	}
	if runErr != nil {
		msg := runErr.Error()
		tr.To, tr.Error, tr.Message = coderclaw.StatusFailed, &msg, msg
	} else {
		hundred := 100
		tr.To, tr.Progress, tr.Message = coderclaw.StatusCompleted, &hundred, "completed"
	}
	if _, err := e.transition(context.Background(), tr); err != nil {
		var te *coderclaw.InvalidTransitionError
		if errors.Is(err, store.ErrLeaseLost) || errors.As(err, &te) {
			e.log.Debug("result refused", "task", t.ID, "attempt", t.Attempt, "err", err)
		} else {
			e.log.Error("record result", "task", t.ID, "err", err)
		}
	}
	e.hub.notify(t.ID)
}

// invoke runs the executor, turning a panic into a failure.
func (e *Engine) invoke(r *run) (output string, err error) {
	ex, _, err := e.agents.Lookup(r.task.AgentID)
	if err != nil {
		return "", err
	}
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("executor panicked", "task", r.task.ID, "agent", r.task.AgentID, "panic", p)
			err = errors.New("executor panicked")
		}
	}()
	return ex.Execute(r.ctx, r)
}

// cleanWorkDir removes a working directory the engine made for the task.
func (e *Engine) cleanWorkDir(t coderclaw.Task) {
	if t.Repo != "" {
		return
	}
	dir := e.workDir(t)
	if err := os.RemoveAll(dir); err != nil {
		e.log.Warn("remove working directory", "task", t.ID, "err", err)
	}
	_ = os.Remove(filepath.Dir(dir)) // the task's directory, once no attempt uses it
}

// heartbeatLoop renews the leases of the executions running here and stops
// those whose lease was lost.
func (e *Engine) heartbeatLoop() {
	defer e.loops.Done()
	tk := time.NewTicker(e.cfg.HeartbeatInterval)
	defer tk.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tk.C:
		}
		e.mu.Lock()
		leases := make([]store.Lease, 0, len(e.runs))
		byID := make(map[string]*run, len(e.runs))
		for id, r := range e.runs {
			if !r.isWaiting() {
				leases = append(leases, store.Lease{TaskID: id, Attempt: r.task.Attempt})
				byID[id] = r
			}
		}
		e.mu.Unlock()
		if len(leases) == 0 {
			continue
		}
		lost, err := e.store.Heartbeat(context.Background(), e.cfg.NodeID, leases, e.cfg.Now().Add(e.cfg.LeaseDuration))
		if err != nil {
			e.log.Error("heartbeat", "err", err)
			continue
		}
		for _, id := range lost {
			if r := byID[id]; r != nil && !r.isWaiting() {
				e.log.Warn("lease lost; stopping execution", "task", id, "attempt", r.task.Attempt)
				r.cancel(errLeaseLost)
			}
		}
	}
}

// rescueLoop requeues tasks whose lease lapsed (their node died).
func (e *Engine) rescueLoop() {
	defer e.loops.Done()
	tk := time.NewTicker(e.cfg.LeaseDuration / 2)
	defer tk.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tk.C:
			if err := e.rescue(context.Background(), false); err != nil && !errors.Is(err, store.ErrClosed) {
				e.log.Error("rescue", "err", err)
			}
		}
	}
}

// rescue requeues or fails tasks whose executor is gone. At start-up it
// also takes back every task this node held, since after a restart it runs
// none of them.
func (e *Engine) rescue(ctx context.Context, restarted bool) error {
	r := store.Rescue{Now: e.cfg.Now(), Actor: e.actor}
	if restarted {
		r.RestartedOwner = e.cfg.NodeID
	}
	start := time.Now()
	tasks, err := e.store.Rescue(ctx, r)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		e.obs.Transitioned(t.Status, 1, time.Since(start))
		e.hub.notify(t.ID)
		e.log.Info("recovered task", "task", t.ID, "status", t.Status, "attempt", t.Attempt)
	}
	if len(tasks) > 0 {
		e.signal()
	}
	return nil
}
