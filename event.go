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
	// EventTool records one skill call of an agent: Data holds a ToolCall.
	EventTool EventType = "tool"
	// EventUsage records the model usage of a task so far: Data holds a
	// Usage with running totals, so the latest usage event is the total.
	EventUsage EventType = "usage"
	// EventDiff carries the changes a task made to its workspace: Message
	// holds the unified diff, Data a DiffSummary.
	EventDiff EventType = "diff"
	// EventCheckpoint saves an agent's state so that a later execution of
	// the task resumes from it; Data is the agent's own encoding.
	EventCheckpoint EventType = "checkpoint"
)

// ToolCall is the payload of an EventTool event.
type ToolCall struct {
	// ID is the model's id of the call.
	ID    string `json:"id,omitempty"`
	Skill string `json:"skill"`
	// Input is the call's arguments as the model sent them.
	Input json.RawMessage `json:"input,omitempty"`
	// Output is what the skill returned, clipped for the event.
	Output string `json:"output,omitempty"`
	// Error is set when the call failed; Denied when the security policy
	// refused it (Error then names the rule).
	Error      string `json:"error,omitempty"`
	Denied     bool   `json:"denied,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Usage is the model usage of a task: tokens and their cost.
type Usage struct {
	Model        string  `json:"model,omitempty"`
	Steps        int     `json:"steps"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// DiffSummary describes the diff of an EventDiff event.
type DiffSummary struct {
	// Branch holds the task's commits; Base is the commit it started from
	// and Head the commit that holds the task's changes ("" when none).
	Branch    string `json:"branch"`
	Base      string `json:"base"`
	Head      string `json:"head,omitempty"`
	Files     int    `json:"files"`
	Additions int    `json:"additions"`
	Deletions int    `json:"deletions"`
	// Truncated is true when Message holds only the start of the diff.
	Truncated bool `json:"truncated,omitempty"`
}

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
