package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/store"
)

// maxPending bounds the events an execution may have waiting for the store;
// a faster producer blocks (backpressure reaches the executor's process).
const maxPending = 4096

// run is one execution of a task. It implements agent.Run: reports are
// buffered and written by a flusher goroutine in batches fenced by the
// attempt, progress is coalesced (the latest value wins), and a question
// moves the task to waiting until Respond delivers the answer.
type run struct {
	e      *Engine
	task   coderclaw.Task
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	pending   []store.NewEvent
	progress  int  // last progress queued
	dirty     bool // progress changed since the last flush
	drained   chan struct{}
	flushing  bool // flusher goroutine started
	kick      chan struct{}
	done      chan struct{} // closed when the flusher ends
	finishing chan struct{} // closed by stopFlusher

	flushMu sync.Mutex // one store append at a time, in order

	answers  []string
	loaded   bool
	asks     int
	waiting  bool
	answerCh chan string
}

var _ agent.Run = (*run)(nil)

func newRun(e *Engine, t coderclaw.Task) *run {
	ctx, cancel := context.WithCancelCause(e.runCtx)
	return &run{
		e: e, task: t, ctx: ctx, cancel: cancel,
		progress:  t.Progress,
		drained:   make(chan struct{}),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		finishing: make(chan struct{}),
		answerCh:  make(chan string, 1),
	}
}

func (r *run) Task() coderclaw.Task { return r.task }
func (r *run) Dir() string          { return r.e.workDir(r.task) }

// Log queues a log line.
func (r *run) Log(stream, line string) {
	ev := store.NewEvent{Type: coderclaw.EventLog, Actor: r.task.AgentID, Message: line, Time: r.e.cfg.Now()}
	if stream != "" && stream != "stdout" {
		ev.Data = mustJSON(logData{Stream: stream})
	}
	r.enqueue(ev)
}

// Record queues an event of an executor-defined type.
func (r *run) Record(typ coderclaw.EventType, message string, data any) {
	switch typ {
	case coderclaw.EventStatus, coderclaw.EventProgress, coderclaw.EventOutput,
		coderclaw.EventQuestion, coderclaw.EventInput, "":
		r.Log("stderr", fmt.Sprintf("coderclaw: an executor may not record a %q event", typ))
		return
	}
	ev := store.NewEvent{Type: typ, Actor: r.task.AgentID, Message: message, Time: r.e.cfg.Now()}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			r.Log("stderr", fmt.Sprintf("coderclaw: %s event: %v", typ, err))
			return
		}
		ev.Data = b
	}
	r.enqueue(ev)
}

// History flushes what this execution queued and returns the task's
// events.
func (r *run) History(ctx context.Context) ([]coderclaw.Event, error) {
	r.flush()
	return r.e.store.Events(ctx, r.task.ID, 0, 0)
}

type logData struct {
	Stream string `json:"stream"`
}

// Progress queues a progress change; only the latest value is written.
func (r *run) Progress(p int) {
	p = min(max(p, 0), 100)
	r.mu.Lock()
	if p != r.progress {
		r.progress, r.dirty = p, true
	}
	r.mu.Unlock()
	r.startFlusher()
	r.signal()
}

func (r *run) enqueue(ev store.NewEvent) {
	for {
		r.mu.Lock()
		if len(r.pending) < maxPending {
			r.pending = append(r.pending, ev)
			r.mu.Unlock()
			break
		}
		drained := r.drained
		r.mu.Unlock()
		r.signal()
		select {
		case <-drained:
		case <-r.ctx.Done():
			return
		}
	}
	r.startFlusher()
	r.signal()
}

func (r *run) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *run) startFlusher() {
	r.mu.Lock()
	start := !r.flushing
	r.flushing = true
	r.mu.Unlock()
	if start {
		go r.flushLoop()
	}
}

func (r *run) flushLoop() {
	defer close(r.done)
	for {
		select {
		case <-r.kick:
			r.flush()
		case <-r.finishing:
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// stopFlusher ends the flusher; what it did not write stays pending for the
// final transition.
func (r *run) stopFlusher() {
	close(r.finishing)
	r.mu.Lock()
	started := r.flushing
	r.mu.Unlock()
	if started {
		<-r.done
	}
}

// takePending removes and returns the queued events, with the coalesced
// progress last.
func (r *run) takePending() []store.NewEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.pending
	r.pending = nil
	if r.dirty {
		p := r.progress
		evs = append(evs, store.NewEvent{Type: coderclaw.EventProgress, Progress: &p, Actor: r.task.AgentID, Time: r.e.cfg.Now()})
		r.dirty = false
	}
	close(r.drained)
	r.drained = make(chan struct{})
	return evs
}

// flush writes the queued events in one fenced append.
func (r *run) flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	evs := r.takePending()
	if len(evs) == 0 {
		return
	}
	_, err := r.e.store.Append(context.Background(), r.task.ID, r.task.Attempt, evs)
	switch {
	case err == nil:
		r.e.hub.notify(r.task.ID)
	case errors.Is(err, store.ErrLeaseLost), errors.Is(err, store.ErrNotFound):
		r.cancel(errLeaseLost)
	default:
		r.e.log.Error("append events", "task", r.task.ID, "err", err)
		r.mu.Lock()
		r.pending = append(evs, r.pending...) // retried with the next flush
		r.mu.Unlock()
	}
}

// loadAnswers reads the answers given to this task so far, so a new
// execution of a task that asked before replays them.
func (r *run) loadAnswers() error {
	evs, err := r.e.store.Events(r.ctx, r.task.ID, 0, 0)
	if err != nil {
		return err
	}
	r.answers = r.answers[:0]
	for _, ev := range evs {
		if ev.Type == coderclaw.EventInput {
			r.answers = append(r.answers, ev.Message)
		}
	}
	r.loaded = true
	return nil
}

// Ask moves the task to waiting with the question and blocks until Respond
// delivers an answer. Answers already given are replayed in order.
func (r *run) Ask(ctx context.Context, question string) (string, error) {
	if !r.loaded {
		if err := r.loadAnswers(); err != nil {
			return "", err
		}
	}
	i := r.asks
	r.asks++
	if i < len(r.answers) {
		return r.answers[i], nil
	}
	r.flush() // the question follows the output that led to it
	now := r.e.cfg.Now()
	r.setWaiting(true) // before the store says waiting: Respond may come at once
	_, err := r.e.transition(ctx, store.Transition{
		TaskID: r.task.ID, To: coderclaw.StatusWaiting, Attempt: r.task.Attempt,
		Events: append(r.takePending(), store.NewEvent{
			Type: coderclaw.EventQuestion, Actor: r.task.AgentID, Message: question,
			Data: mustJSON(questionData{Index: i}), Time: now,
		}),
		Actor: r.task.AgentID, Message: "waiting for an answer", Now: now,
	})
	if err != nil {
		r.setWaiting(false)
		var te *coderclaw.InvalidTransitionError
		if errors.Is(err, store.ErrLeaseLost) || errors.As(err, &te) {
			r.cancel(errLeaseLost)
		}
		return "", err
	}
	r.e.hub.notify(r.task.ID)
	r.e.releaseSlot()
	select {
	case a := <-r.answerCh:
		r.e.mu.Lock()
		r.e.slots++ // a resumed execution runs even if the pool is full
		r.e.mu.Unlock()
		r.setWaiting(false)
		r.answers = append(r.answers, a)
		return a, nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

type questionData struct {
	Index int `json:"index"`
}

func (r *run) setWaiting(w bool) {
	r.mu.Lock()
	r.waiting = w
	r.mu.Unlock()
}

func (r *run) isWaiting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting
}

// deliver hands an answer to the execution if it waits for one.
func (r *run) deliver(answer string) bool {
	if !r.isWaiting() {
		return false
	}
	select {
	case r.answerCh <- answer:
		return true
	default:
		return false
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs of strings and ints
	}
	return b
}
