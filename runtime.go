package coderclaw

import (
	"context"
	"iter"
	"time"
)

// Runtime is the contract of a CoderClaw node. The in-process engine
// implements it, and so does every transport's client, so a caller cannot
// tell a local runtime from a remote one. Every error a Runtime returns for
// a condition a caller may act on is an *Error.
type Runtime interface {
	// Submit creates a pending task for an agent.
	Submit(ctx context.Context, req SubmitRequest) (Task, error)
	// Task returns one task, with its children's states.
	Task(ctx context.Context, id string) (Task, error)
	// Tasks lists tasks matching a filter, newest first, one page at a time.
	Tasks(ctx context.Context, f Filter) (TaskPage, error)
	// Events returns a task's full history in sequence order.
	Events(ctx context.Context, id string) ([]Event, error)
	// Stream yields a task's events with Seq > afterSeq in order, without
	// gaps or duplicates, waiting for new ones as they happen. It ends after
	// the event that makes the task terminal (at once, yielding nothing,
	// when afterSeq is at or past it), or when ctx ends (yielding ctx's
	// error), or with an *Error (not_found for an unknown task).
	Stream(ctx context.Context, id string, afterSeq int64) iter.Seq2[Event, error]
	// Cancel moves a non-terminal task to cancelled and stops its executor.
	Cancel(ctx context.Context, id string) (Task, error)
	// Respond answers a waiting task's question and resumes it.
	Respond(ctx context.Context, id string, input string) (Task, error)
	// Agents lists the agents with their availability.
	Agents(ctx context.Context) ([]Agent, error)
	// Skills lists the skills agents may call.
	Skills(ctx context.Context) ([]Skill, error)
	// Status reports the node's health.
	Status(ctx context.Context) (NodeStatus, error)
}

// Agent describes an agent a task can be given to.
type Agent struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	Capabilities []string `json:"capabilities,omitempty"`
	Available    bool     `json:"available"`
	// Reason says why an unavailable agent cannot run.
	Reason string `json:"reason,omitempty"`
}

// Skill describes a tool agents may call.
type Skill struct {
	ID                 string `json:"id"`
	Description        string `json:"description"`
	RequiredPermission string `json:"required_permission,omitempty"`
	Dangerous          bool   `json:"dangerous"`
	Source             string `json:"source,omitempty"`
}

// NodeStatus is a node's health report.
type NodeStatus struct {
	NodeID     string         `json:"node_id"`
	Mode       string         `json:"mode"`
	Version    string         `json:"version"`
	StartedAt  time.Time      `json:"started_at"`
	Uptime     Duration       `json:"uptime"`
	QueueDepth int            `json:"queue_depth"`
	Running    int            `json:"running"`
	Workers    int            `json:"workers"`
	Tasks      map[Status]int `json:"tasks"`
	Store      StoreHealth    `json:"store"`
}

// StoreHealth reports the state of a node's store.
type StoreHealth struct {
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Duration is a time.Duration that travels as a string such as "1m30s".
type Duration time.Duration

// MarshalText encodes the duration in time.Duration's string form.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText decodes the string form of time.Duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
