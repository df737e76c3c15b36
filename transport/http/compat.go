package http

import (
	"encoding/json"
	"net/http"

	"github.com/coderclaw/coderclaw"
)

// The coderClawLink portal's clients speak a slightly different dialect of
// this API: they submit with agent_type, prompt and context, and read
// task_id and state from task responses. The wire types below accept and
// produce both, so those clients work unchanged.

// submitBody is the body of POST /api/runtime/tasks/submit.
type submitBody struct {
	coderclaw.SubmitRequest
	// AgentType is coderClawLink's name for agent_id.
	AgentType string `json:"agent_type,omitempty"`
	// Prompt is coderClawLink's name for input.
	Prompt string `json:"prompt,omitempty"`
	// Context is coderClawLink's free-form context; its entries become
	// metadata (non-string values as JSON text) and its "project", when a
	// string, the task's project.
	Context map[string]json.RawMessage `json:"context,omitempty"`
}

// request merges the coderClawLink fields into a SubmitRequest.
func (b submitBody) request() (coderclaw.SubmitRequest, error) {
	req := b.SubmitRequest
	merge := func(field, alias, v, av string) (string, error) {
		switch {
		case av == "":
			return v, nil
		case v == "" || v == av:
			return av, nil
		}
		return "", coderclaw.Errorf(coderclaw.CodeInvalid, "%s and %s disagree: give one of them", field, alias)
	}
	var err error
	if req.AgentID, err = merge("agent_id", "agent_type", req.AgentID, b.AgentType); err != nil {
		return req, err
	}
	if req.Input, err = merge("input", "prompt", req.Input, b.Prompt); err != nil {
		return req, err
	}
	if len(b.Context) == 0 {
		return req, nil
	}
	meta := make(map[string]string, len(req.Metadata)+len(b.Context))
	for k, v := range req.Metadata {
		meta[k] = v
	}
	for k, raw := range b.Context {
		var s string
		val := string(raw)
		if json.Unmarshal(raw, &s) == nil {
			val = s
		}
		if old, ok := meta[k]; ok && old != val {
			return req, coderclaw.Errorf(coderclaw.CodeInvalid, "context[%s] and metadata[%s] disagree", k, k)
		}
		meta[k] = val
		if k == "project" && req.Project == "" && json.Unmarshal(raw, &s) == nil {
			req.Project = s
		}
	}
	req.Metadata = meta
	return req, nil
}

// taskBody is a task as every response carries it: the task's own fields
// plus coderClawLink's task_id and state.
type taskBody struct {
	coderclaw.Task
	TaskID string           `json:"task_id"`
	State  coderclaw.Status `json:"state"`
}

func wireTask(t coderclaw.Task) taskBody {
	return taskBody{Task: t, TaskID: t.ID, State: t.Status}
}

// pageBody is a TaskPage whose tasks carry the coderClawLink fields.
type pageBody struct {
	Tasks      []taskBody `json:"tasks"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func wirePage(p coderclaw.TaskPage) pageBody {
	out := pageBody{Tasks: make([]taskBody, len(p.Tasks)), NextCursor: p.NextCursor}
	for i, t := range p.Tasks {
		out.Tasks[i] = wireTask(t)
	}
	return out
}

// sessions answers the session routes, which need the identity layer that
// creates and checks sessions; until a node has one they say so.
func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	h.writeErrorStatus(w, r, http.StatusNotImplemented, coderclaw.Errorf(coderclaw.CodeUnavailable,
		"sessions are not available on this node: it has no identity provider configured"))
}
