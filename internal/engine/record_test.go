package engine_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestRecordAndHistory: an executor records events of its own types, sees
// them in the task's history, cannot forge engine-owned types, and sees
// who submitted the task.
func TestRecordAndHistory(t *testing.T) {
	reg := nodetest.Registry(t)
	type seen struct {
		submitter coderclaw.Principal
		types     []coderclaw.EventType
	}
	got := make(chan seen, 1)
	err := reg.Register(coderclaw.Agent{ID: "recorder", Available: true}, agent.ExecutorFunc(
		func(ctx context.Context, run agent.Run) (string, error) {
			run.Record(coderclaw.EventTool, "file-read a.go", coderclaw.ToolCall{Skill: "file-read", Output: "x"})
			run.Record(coderclaw.EventOutput, "forged", nil) // refused, logged instead
			run.Record(coderclaw.EventCheckpoint, "state", map[string]int{"step": 3})
			evs, err := run.History(ctx)
			if err != nil {
				return "", err
			}
			var s seen
			s.submitter = run.Task().Submitter
			for _, ev := range evs {
				s.types = append(s.types, ev.Type)
			}
			got <- s
			return "done", nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, nodetest.Options{Agents: reg})
	p := coderclaw.Principal{UserID: "u1", SessionID: "s1", Roles: []string{"developer"}, Method: "session"}
	task, err := n.Submit(coderclaw.WithPrincipal(ctx(t), p), coderclaw.SubmitRequest{AgentID: "recorder", Input: "go"})
	if err != nil {
		t.Fatal(err)
	}
	final, _ := follow(t, n, task.ID)
	if final.Status != coderclaw.StatusCompleted {
		t.Fatalf("task %s: %s", final.Status, final.Error)
	}
	s := <-got
	if s.submitter.UserID != "u1" || s.submitter.SessionID != "s1" || !slices.Equal(s.submitter.Roles, p.Roles) {
		t.Errorf("submitter seen by the executor = %+v, want %+v", s.submitter, p)
	}
	for _, want := range []coderclaw.EventType{coderclaw.EventTool, coderclaw.EventCheckpoint, coderclaw.EventLog} {
		if !slices.Contains(s.types, want) {
			t.Errorf("history %v lacks a %s event", s.types, want)
		}
	}
	if slices.Contains(s.types, coderclaw.EventOutput) {
		t.Errorf("history %v has an output event recorded by the executor", s.types)
	}
	evs, err := n.Events(ctx(t), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == coderclaw.EventTool {
			var c coderclaw.ToolCall
			if err := json.Unmarshal(ev.Data, &c); err != nil || c.Skill != "file-read" || ev.Message != "file-read a.go" {
				t.Errorf("tool event %+v: data %s (%v)", ev, ev.Data, err)
			}
		}
	}
	stored, err := n.Store.Task(ctx(t), task.ID)
	if err != nil || stored.Submitter.UserID != "u1" {
		t.Errorf("stored submitter %+v (%v)", stored.Submitter, err)
	}
}
