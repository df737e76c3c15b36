package coderclaw

import "fmt"

// Status is the state of a task. Its string form is lowercase on every wire.
type Status string

// The task states. Completed, failed and cancelled are terminal.
const (
	StatusPending   Status = "pending"
	StatusPlanning  Status = "planning"
	StatusRunning   Status = "running"
	StatusWaiting   Status = "waiting"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusPending, StatusPlanning, StatusRunning, StatusWaiting,
		StatusCompleted, StatusFailed, StatusCancelled}
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusPlanning, StatusRunning, StatusWaiting,
		StatusCompleted, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether s is a final state that never changes.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Active reports whether a task in state s is held by an executor
// (planning or running) and therefore carries a lease.
func (s Status) Active() bool {
	return s == StatusPlanning || s == StatusRunning
}

// ParseStatus parses the lowercase wire form of a status.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", Errorf(CodeInvalid, "unknown status %q (want one of pending, planning, running, waiting, completed, failed, cancelled)", s)
	}
	return st, nil
}

// InvalidTransitionError reports a transition the lifecycle does not allow.
type InvalidTransitionError struct {
	From, To Status
}

func (e *InvalidTransitionError) Error() string {
	if e.From.Terminal() {
		return fmt.Sprintf("invalid transition %s -> %s: task is already %s", e.From, e.To, e.From)
	}
	return fmt.Sprintf("invalid transition %s -> %s", e.From, e.To)
}

// Transition causes. Requeue (planning/running -> pending) is allowed only
// when the lease was lost or the node restarted; every other cause uses
// ByRequest.
type Cause int

const (
	// ByRequest is an ordinary transition asked for by an executor or a user.
	ByRequest Cause = iota
	// ByRecovery is a transition made by lease recovery or restart recovery.
	ByRecovery
)

// ValidateTransition reports whether a task may move from one status to
// another for the given cause. It is the single source of truth for the
// lifecycle:
//
//	pending -> planning -> running -> completed
//	running <-> waiting
//	any non-terminal -> cancelled | failed
//	planning | running -> pending (ByRecovery only: requeue)
//
// Terminal states never change. The error is an *InvalidTransitionError.
func ValidateTransition(from, to Status, cause Cause) error {
	if allowed(from, to, cause) {
		return nil
	}
	return &InvalidTransitionError{From: from, To: to}
}

func allowed(from, to Status, cause Cause) bool {
	if !from.Valid() || !to.Valid() || from.Terminal() || from == to {
		return false
	}
	switch to {
	case StatusCancelled, StatusFailed:
		return true
	case StatusPlanning:
		return from == StatusPending
	case StatusRunning:
		return from == StatusPlanning || from == StatusWaiting
	case StatusWaiting:
		return from == StatusRunning
	case StatusCompleted:
		return from == StatusRunning
	case StatusPending:
		return cause == ByRecovery && from.Active()
	}
	return false
}
