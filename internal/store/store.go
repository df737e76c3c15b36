// Package store defines the persistence seam of the engine: one Store
// interface at the engine's level of meaning (create a task with its first
// event, conditional transitions, claims with a lease, heartbeats, fenced
// reports, recovery of lapsed leases, events by sequence and by global
// position), not a generic key-value store.
//
// Backends live in sub-packages (sqlite, later postgres) and must all pass
// the conformance suite in storetest. Every method is safe for concurrent
// use. A state change and the events describing it are written in one
// transaction, so a reader never sees one without the other.
//
// Errors: ErrNotFound for an unknown task, ErrLeaseLost when a fencing token
// (the attempt) no longer matches, and *coderclaw.InvalidTransitionError when
// the lifecycle forbids a transition. Other errors are backend failures.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no task has the id.
	ErrNotFound = errors.New("task not found")
	// ErrLeaseLost: the caller's fencing token (attempt) or lease owner no
	// longer matches the task, or the task left the state the caller held
	// it in; the caller's write was refused.
	ErrLeaseLost = errors.New("lease lost")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Store persists tasks and their event logs.
type Store interface {
	// CreateTask inserts a pending task, whose ID, times, attempt (1) and
	// max attempts the caller has set, together with its first event
	// (seq 1, a status event entering pending). It returns the stored task.
	CreateTask(ctx context.Context, t coderclaw.Task, actor string) (coderclaw.Task, error)

	// Transition moves a task to a new status if ValidateTransition allows
	// it from the task's current status, writing the given events first and
	// then the status event, all in one transaction. With a non-zero
	// Attempt, the write is fenced: it is refused with ErrLeaseLost unless
	// the task's attempt matches and the task is active (planning or
	// running) or waiting.
	Transition(ctx context.Context, tr Transition) (coderclaw.Task, error)

	// Claim moves up to Limit pending tasks, highest priority first then
	// oldest, straight to running (writing the planning and running status
	// events) and gives them a lease held by Owner until LeaseUntil. The
	// returned tasks carry their attempt: the fencing token for every later
	// write of this execution.
	Claim(ctx context.Context, c Claim) ([]coderclaw.Task, error)

	// Heartbeat extends the leases of active tasks held by owner at the
	// given attempts until the time given. It returns the ids whose lease
	// is lost (wrong owner or attempt, or no longer active).
	Heartbeat(ctx context.Context, owner string, leases []Lease, until time.Time) (lost []string, err error)

	// Append writes events (logs, progress, output, questions) for an
	// execution fenced by attempt: refused with ErrLeaseLost unless the
	// task's attempt matches and it is active. A progress event also sets
	// the task's progress. It returns the stored events.
	Append(ctx context.Context, taskID string, attempt int, evs []NewEvent) ([]coderclaw.Event, error)

	// Rescue requeues active tasks whose lease expired before Now, or that
	// are held by RestartedOwner (a node that restarted and therefore runs
	// nothing): each goes back to pending with attempt+1, or to failed when
	// its attempt has reached its max attempts. It returns the changed tasks.
	Rescue(ctx context.Context, r Rescue) ([]coderclaw.Task, error)

	// Task returns one task (without children).
	Task(ctx context.Context, id string) (coderclaw.Task, error)
	// Tasks lists tasks matching the filter, newest first.
	Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error)
	// Events returns up to limit events of a task with Seq > afterSeq in
	// order (limit <= 0 means all). ErrNotFound for an unknown task.
	Events(ctx context.Context, taskID string, afterSeq int64, limit int) ([]coderclaw.Event, error)
	// EventsSince returns up to limit events of all tasks with Position >
	// after, in position order.
	EventsSince(ctx context.Context, after int64, limit int) ([]coderclaw.Event, error)
	// Counts returns the number of tasks in each status.
	Counts(ctx context.Context) (map[coderclaw.Status]int, error)
	// Ping checks the store can serve reads and writes.
	Ping(ctx context.Context) error
	// Close releases the store; pending writes finish first.
	Close() error
}

// Transition is a request to change a task's status.
type Transition struct {
	TaskID string
	To     coderclaw.Status
	Cause  coderclaw.Cause
	// Attempt, when non-zero, fences the write (see Store.Transition).
	Attempt int
	// Output, Error and Progress, when non-nil, set the task's fields.
	Output   *string
	Error    *string
	Progress *int
	// LeaseOwner and LeaseUntil, when the owner is non-empty, give the task
	// a lease (for a waiting task resumed by Respond).
	LeaseOwner string
	LeaseUntil time.Time
	// Events are written before the status event.
	Events  []NewEvent
	Actor   string
	Message string
	Now     time.Time
}

// Claim is a request to take pending tasks for execution.
type Claim struct {
	Owner      string
	Limit      int
	Now        time.Time
	LeaseUntil time.Time
	Actor      string
}

// Lease names one execution: a task and the attempt (fencing token).
type Lease struct {
	TaskID  string
	Attempt int
}

// Rescue is a request to recover tasks whose executor is gone.
type Rescue struct {
	Now time.Time
	// RestartedOwner, when non-empty, also rescues every active task held by
	// this owner whatever its lease expiry.
	RestartedOwner string
	Actor          string
}

// NewEvent is an event to append; the store assigns its Seq and Position.
type NewEvent struct {
	Type     coderclaw.EventType
	Status   coderclaw.Status
	Progress *int
	Actor    string
	Message  string
	Data     json.RawMessage
	Time     time.Time
}
