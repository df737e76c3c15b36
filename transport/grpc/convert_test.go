package grpc

import (
	"context"
	"encoding/json"
	"iter"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// richRuntime answers every call with values that fill every field, and
// records what it was asked.
type richRuntime struct {
	mu     sync.Mutex
	submit coderclaw.SubmitRequest
	filter coderclaw.Filter
	input  string
}

func richTask() coderclaw.Task {
	at := time.Date(2026, 11, 22, 3, 4, 5, 123456789, time.UTC)
	started, finished := at.Add(time.Second), at.Add(2*time.Second)
	return coderclaw.Task{
		ID: "0190a0f8-0000-7000-8000-000000000001", Description: "d", Input: "in", AgentID: "shell",
		Status: coderclaw.StatusCompleted, Progress: 100, Output: "out", Error: "e", ParentID: "p", SessionID: "s",
		Project: "pr", Repo: "r", Labels: map[string]string{"a": "b"}, Metadata: map[string]string{"m": "n"},
		Priority: -7, Attempt: 2, MaxAttempts: 3, LastSeq: 1 << 40, CreatedAt: at, UpdatedAt: at,
		StartedAt: &started, FinishedAt: &finished,
		Children: []coderclaw.ChildTask{{ID: "c1", AgentID: "noop", Status: coderclaw.StatusFailed, Progress: 5}},
	}
}

func richEvents() []coderclaw.Event {
	at := time.Date(2026, 11, 22, 3, 4, 5, 6, time.UTC)
	return []coderclaw.Event{
		{TaskID: "t", Seq: 1, Position: 1 << 41, Time: at, Type: coderclaw.EventLog, Progress: 3, Actor: "a", Message: "m"},
		{TaskID: "t", Seq: 2, Position: 1<<41 + 9, Time: at, Type: coderclaw.EventStatus, Status: coderclaw.StatusCompleted,
			Progress: 100, Actor: "engine", Data: json.RawMessage(`{"exit":0,"files":["a.go"]}`)},
	}
}

func richAgents() []coderclaw.Agent {
	return []coderclaw.Agent{
		{ID: "shell", Name: "Shell", Description: "runs", Kind: "shell", Capabilities: []string{"sh", "git"}, Available: true},
		{ID: "claude", Name: "Claude", Kind: "cli", Reason: "not configured"},
	}
}

func richSkills() []coderclaw.Skill {
	return []coderclaw.Skill{{ID: "shell.exec", Description: "run", RequiredPermission: "skill:execute", Dangerous: true, Source: "builtin"}}
}

func richStatus() coderclaw.NodeStatus {
	return coderclaw.NodeStatus{
		NodeID: "n", Mode: "local-only", Version: "v1", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Uptime: coderclaw.Duration(90*time.Minute + 1), QueueDepth: 4, Running: 2, Workers: 8,
		Tasks: map[coderclaw.Status]int{coderclaw.StatusPending: 4, coderclaw.StatusCompleted: 1 << 20},
		Store: coderclaw.StoreHealth{Backend: "sqlite", OK: false, Error: "disk full"},
	}
}

func (r *richRuntime) Submit(_ context.Context, req coderclaw.SubmitRequest) (coderclaw.Task, error) {
	r.mu.Lock()
	r.submit = req
	r.mu.Unlock()
	return richTask(), nil
}

// asked returns what the runtime was asked.
func (r *richRuntime) asked() (coderclaw.SubmitRequest, coderclaw.Filter, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.submit, r.filter, r.input
}

func (r *richRuntime) Task(context.Context, string) (coderclaw.Task, error) { return richTask(), nil }
func (r *richRuntime) Tasks(_ context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	r.mu.Lock()
	r.filter = f
	r.mu.Unlock()
	return coderclaw.TaskPage{Tasks: []coderclaw.Task{richTask(), richTask()}, NextCursor: "next"}, nil
}
func (r *richRuntime) Events(context.Context, string) ([]coderclaw.Event, error) {
	return richEvents(), nil
}
func (r *richRuntime) Stream(context.Context, string, int64) iter.Seq2[coderclaw.Event, error] {
	return func(yield func(coderclaw.Event, error) bool) {
		for _, ev := range richEvents() {
			if !yield(ev, nil) {
				return
			}
		}
	}
}
func (r *richRuntime) Cancel(context.Context, string) (coderclaw.Task, error) { return richTask(), nil }
func (r *richRuntime) Respond(_ context.Context, _ string, input string) (coderclaw.Task, error) {
	r.mu.Lock()
	r.input = input
	r.mu.Unlock()
	return richTask(), nil
}
func (r *richRuntime) Agents(context.Context) ([]coderclaw.Agent, error) { return richAgents(), nil }
func (r *richRuntime) Skills(context.Context) ([]coderclaw.Skill, error) { return richSkills(), nil }
func (r *richRuntime) Status(context.Context) (coderclaw.NodeStatus, error) {
	return richStatus(), nil
}

// sameJSON fails unless got and want encode to the same JSON, the form
// every other transport carries.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil || string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestRoundTrip checks that every field of every type crosses each
// protocol unchanged, in both directions.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			rt := &richRuntime{}
			c := newClient(t, serve(t, NewHandler(rt, HandlerOptions{})), p)
			ctx := testCtx(t)
			req := coderclaw.SubmitRequest{Description: "d", Input: "i", AgentID: "a", ParentID: "p", SessionID: "s",
				Project: "pr", Repo: "r", Labels: map[string]string{"x": "y"}, Metadata: map[string]string{"k": "v"},
				Priority: -3, MaxAttempts: 9}
			task, err := c.Submit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "submit task", task, richTask())
			asked, _, _ := rt.asked()
			sameJSON(t, "submit request", asked, req)
			if task, err = c.Task(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "task", task, richTask())
			f := coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusRunning, coderclaw.StatusWaiting}, AgentID: "a",
				SessionID: "s", Project: "p", ParentID: "q", CreatedAfter: time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC),
				CreatedBefore: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 7, Cursor: "c"}
			page, err := c.Tasks(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "page", page, coderclaw.TaskPage{Tasks: []coderclaw.Task{richTask(), richTask()}, NextCursor: "next"})
			_, askedFilter, _ := rt.asked()
			sameJSON(t, "filter", askedFilter, f)
			evs, err := c.Events(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "events", evs, richEvents())
			var streamed []coderclaw.Event
			for ev, err := range c.Stream(ctx, "t", 0) {
				if err != nil {
					t.Fatal(err)
				}
				streamed = append(streamed, ev)
			}
			sameJSON(t, "stream", streamed, richEvents())
			if task, err = c.Cancel(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "cancel", task, richTask())
			task, err = c.Respond(ctx, "x", "yes\nplease")
			if _, _, input := rt.asked(); err != nil || input != "yes\nplease" {
				t.Fatalf("respond: %v, input %q", err, input)
			}
			sameJSON(t, "respond", task, richTask())
			agents, err := c.Agents(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "agents", agents, richAgents())
			skills, err := c.Skills(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "skills", skills, richSkills())
			st, err := c.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "status", st, richStatus())
		})
	}
}

func TestClamp32(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]int32{0: 0, -5: -5, math.MaxInt32: math.MaxInt32, math.MaxInt32 + 1: math.MaxInt32,
		math.MinInt32 - 1: math.MinInt32, math.MaxInt: math.MaxInt32, math.MinInt: math.MinInt32} {
		if got := clamp32(in); got != want {
			t.Errorf("clamp32(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestWireShape checks what each protocol puts on the wire: gRPC over
// HTTP/2 (h2c), Connect and gRPC-Web over HTTP/1.1, each with its content
// type, the token and the user agent.
func TestWireShape(t *testing.T) {
	t.Parallel()
	type seen struct {
		proto, contentType, auth, ua string
	}
	want := map[Protocol]seen{
		ProtocolGRPC:    {"HTTP/2.0", "application/grpc", "Bearer s3cret", "coderclaw-test"},
		ProtocolConnect: {"HTTP/1.1", "application/proto", "Bearer s3cret", "coderclaw-test"},
		ProtocolGRPCWeb: {"HTTP/1.1", "application/grpc-web+proto", "Bearer s3cret", "coderclaw-test"},
	}
	for _, p := range protocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []seen
			h := NewHandler(&richRuntime{}, HandlerOptions{})
			rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, seen{r.Proto, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("User-Agent")})
				mu.Unlock()
				h.ServeHTTP(w, r)
			})
			c := newClient(t, serveHandler(t, rec, h.EndStreams), p, WithToken("s3cret"))
			if c.Protocol() != p {
				t.Errorf("Protocol() = %s", c.Protocol())
			}
			if _, err := c.Skills(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			for range c.Stream(testCtx(t), "t", 0) {
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 2 {
				t.Fatalf("%d requests", len(got))
			}
			for i, g := range got {
				w := want[p]
				if i == 1 && p == ProtocolConnect {
					w.contentType = "application/connect+proto" // a Connect stream
				}
				if g != w {
					t.Errorf("request %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
