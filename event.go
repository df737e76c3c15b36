package coderclaw

import (
	"encoding/json"
	"time"
)

// EventType says what an event records.
type EventType string

// The event types.
const (
	// EventStatus records a transition; Status holds the new status.
	EventStatus EventType = "status"
	// EventProgress records a progress change; Progress holds the value.
	EventProgress EventType = "progress"
	// EventLog is a line of executor output (stdout, stderr, agent text).
	EventLog EventType = "log"
	// EventOutput carries the task's final output.
	EventOutput EventType = "output"
	// EventQuestion is a question an agent asks a human; the task waits.
	EventQuestion EventType = "question"
	// EventInput is a human's answer given through Respond.
	EventInput EventType = "input"
)

// Event is one entry of a task's append-only history. Seq numbers a task's
// events 1, 2, 3, ... without gaps; Position orders events across all tasks
// of a store, for resuming a stream that spans tasks.
type Event struct {
	TaskID   string    `json:"task_id"`
	Seq      int64     `json:"seq"`
	Position int64     `json:"position"`
	Time     time.Time `json:"time"`
	Type     EventType `json:"type"`
	// Status is set on status events: the status entered.
	Status Status `json:"status,omitempty"`
	// Progress is the task's progress after the event.
	Progress int    `json:"progress"`
	Actor    string `json:"actor,omitempty"`
	Message  string `json:"message,omitempty"`
	// Data holds a structured payload for types that need one.
	Data json.RawMessage `json:"data,omitempty"`
}

// Terminal reports whether the event moved its task into a final state; it
// is the last event a stream delivers.
func (e Event) Terminal() bool {
	return e.Type == EventStatus && e.Status.Terminal()
}
