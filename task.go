package coderclaw

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Task is a unit of work given to an agent, as every front end sees it.
type Task struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	Input       string            `json:"input"`
	AgentID     string            `json:"agent_id"`
	Status      Status            `json:"status"`
	Progress    int               `json:"progress"`
	Output      string            `json:"output"`
	Error       string            `json:"error"`
	ParentID    string            `json:"parent_id,omitempty"`
	SessionID   string            `json:"session_id,omitempty"`
	Project     string            `json:"project,omitempty"`
	Repo        string            `json:"repo,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Priority    int               `json:"priority"`
	// Submitter is who submitted the task, as authenticated then; the node
	// keeps it for the checks made while the task runs (which skills its
	// agent may call). It is not sent to clients. Zero for a task
	// submitted in-process without a principal.
	Submitter Principal `json:"-"`
	// Attempt is the execution attempt, starting at 1; a requeue after a
	// lost lease or a restart adds one. It is also the fencing token of the
	// claim that runs it.
	Attempt     int `json:"attempt"`
	MaxAttempts int `json:"max_attempts"`
	// LastSeq is the sequence number of the task's latest event.
	LastSeq    int64      `json:"last_seq"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Children lists the child tasks of a parent with their states. It is
	// filled by Runtime.Task, not by listings.
	Children []ChildTask `json:"children,omitempty"`
}

// ChildTask is a child's state as shown in its parent's view.
type ChildTask struct {
	ID        string `json:"id"`
	AgentID   string `json:"agent_id"`
	Status    Status `json:"status"`
	Progress  int    `json:"progress"`
	SessionID string `json:"session_id,omitempty"`
}

// Limits on what a SubmitRequest may carry.
const (
	MaxInputBytes       = 1 << 20
	MaxDescriptionBytes = 4 << 10
	MaxLabels           = 32
	MaxMetadata         = 64
	MaxKeyBytes         = 128
	MaxValueBytes       = 4 << 10
	MinPriority         = -1000
	MaxPriority         = 1000
)

// SubmitRequest asks a runtime to run a new task.
type SubmitRequest struct {
	Description string            `json:"description,omitempty"`
	Input       string            `json:"input"`
	AgentID     string            `json:"agent_id"`
	ParentID    string            `json:"parent_id,omitempty"`
	SessionID   string            `json:"session_id,omitempty"`
	Project     string            `json:"project,omitempty"`
	Repo        string            `json:"repo,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Priority    int               `json:"priority,omitempty"`
	// MaxAttempts bounds requeues after lost leases; zero means the node's
	// default.
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// Validate checks the request's shape (not whether the agent or parent
// exist) and returns an *Error with code invalid naming the bad field.
func (r SubmitRequest) Validate() error {
	switch {
	case strings.TrimSpace(r.Input) == "":
		return Errorf(CodeInvalid, "input: must not be empty")
	case len(r.Input) > MaxInputBytes:
		return Errorf(CodeInvalid, "input: %d bytes exceeds the limit of %d", len(r.Input), MaxInputBytes)
	case !utf8.ValidString(r.Input):
		return Errorf(CodeInvalid, "input: not valid UTF-8")
	case strings.TrimSpace(r.AgentID) == "":
		return Errorf(CodeInvalid, "agent_id: must not be empty")
	case len(r.Description) > MaxDescriptionBytes:
		return Errorf(CodeInvalid, "description: %d bytes exceeds the limit of %d", len(r.Description), MaxDescriptionBytes)
	case r.Priority < MinPriority || r.Priority > MaxPriority:
		return Errorf(CodeInvalid, "priority: %d is outside [%d, %d]", r.Priority, MinPriority, MaxPriority)
	case r.MaxAttempts < 0 || r.MaxAttempts > 100:
		return Errorf(CodeInvalid, "max_attempts: %d is outside [0, 100]", r.MaxAttempts)
	}
	for _, s := range []struct{ name, v string }{
		{"agent_id", r.AgentID}, {"parent_id", r.ParentID}, {"session_id", r.SessionID},
		{"project", r.Project},
	} {
		if len(s.v) > MaxKeyBytes || !utf8.ValidString(s.v) {
			return Errorf(CodeInvalid, "%s: must be valid UTF-8 of at most %d bytes", s.name, MaxKeyBytes)
		}
	}
	if len(r.Repo) > MaxValueBytes || !utf8.ValidString(r.Repo) {
		return Errorf(CodeInvalid, "repo: must be valid UTF-8 of at most %d bytes", MaxValueBytes)
	}
	if err := validateMap("labels", r.Labels, MaxLabels); err != nil {
		return err
	}
	return validateMap("metadata", r.Metadata, MaxMetadata)
}

func validateMap(field string, m map[string]string, max int) error {
	if len(m) > max {
		return Errorf(CodeInvalid, "%s: %d entries exceeds the limit of %d", field, len(m), max)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxKeyBytes || !utf8.ValidString(k) {
			return Errorf(CodeInvalid, "%s: key %q must be non-empty valid UTF-8 of at most %d bytes", field, k, MaxKeyBytes)
		}
		if len(v) > MaxValueBytes || !utf8.ValidString(v) {
			return Errorf(CodeInvalid, "%s[%s]: value must be valid UTF-8 of at most %d bytes", field, k, MaxValueBytes)
		}
	}
	return nil
}

// Filter selects tasks. Zero fields match everything. Results are ordered
// newest first; Cursor continues after the last task of a previous page.
type Filter struct {
	Status        []Status  `json:"status,omitempty"`
	AgentID       string    `json:"agent_id,omitempty"`
	SessionID     string    `json:"session_id,omitempty"`
	Project       string    `json:"project,omitempty"`
	ParentID      string    `json:"parent_id,omitempty"`
	CreatedAfter  time.Time `json:"created_after,omitzero"`
	CreatedBefore time.Time `json:"created_before,omitzero"`
	// Limit is the page size: zero means DefaultPageSize, at most MaxPageSize.
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Page sizes for Tasks.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Validate checks the filter and returns an *Error naming the bad field.
func (f Filter) Validate() error {
	for _, s := range f.Status {
		if !s.Valid() {
			return Errorf(CodeInvalid, "status: unknown status %q", s)
		}
	}
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return Errorf(CodeInvalid, "limit: %d is outside [0, %d]", f.Limit, MaxPageSize)
	}
	return nil
}

// PageSize returns the effective page size of the filter.
func (f Filter) PageSize() int {
	if f.Limit == 0 {
		return DefaultPageSize
	}
	return f.Limit
}

// TaskPage is one page of tasks. NextCursor is empty on the last page.
type TaskPage struct {
	Tasks      []Task `json:"tasks"`
	NextCursor string `json:"next_cursor,omitempty"`
}
