// Package coderclawtest is the conformance suite of the coderclaw.Runtime
// contract. Run executes the same assertions against any Runtime: the
// in-process engine and every transport's client talking to a real server.
// A behaviour that only one of them has is a bug.
//
// The runtime under test must offer the built-in "shell" and "noop" agents
// and a POSIX sh on the node.
package coderclawtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Timeout bounds each subtest; the suite never sleeps to wait.
const Timeout = 60 * time.Second

// Run runs the conformance suite. newRuntime is called once per subtest and
// must return a started runtime that is cleaned up with t.Cleanup.
func Run(t *testing.T, newRuntime func(t *testing.T) coderclaw.Runtime) {
	tests := []struct {
		name string
		fn   func(t *testing.T, rt coderclaw.Runtime)
	}{
		{"LifecycleNoop", testLifecycleNoop},
		{"ShellOutput", testShellOutput},
		{"ShellFailure", testShellFailure},
		{"Progress", testProgress},
		{"SubmitInvalid", testSubmitInvalid},
		{"UnknownTask", testUnknownTask},
		{"Cancel", testCancel},
		{"Respond", testRespond},
		{"StreamResume", testStreamResume},
		{"ListAndPage", testListAndPage},
		{"ParentChild", testParentChild},
		{"Discovery", testDiscovery},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newRuntime(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

func submit(t *testing.T, rt coderclaw.Runtime, req coderclaw.SubmitRequest) coderclaw.Task {
	t.Helper()
	task, err := rt.Submit(ctxFor(t), req)
	if err != nil {
		t.Fatalf("submit %+v: %v", req, err)
	}
	return task
}

// follow streams a task's events after afterSeq until the stream ends, and
// checks they are gap-free.
func follow(t *testing.T, rt coderclaw.Runtime, id string, afterSeq int64) []coderclaw.Event {
	t.Helper()
	var evs []coderclaw.Event
	want := afterSeq + 1
	for ev, err := range rt.Stream(ctxFor(t), id, afterSeq) {
		if err != nil {
			t.Fatalf("stream %s after %d: %v (got %d events)", id, afterSeq, err, len(evs))
		}
		if ev.Seq != want {
			t.Fatalf("stream %s: event seq %d, want %d", id, ev.Seq, want)
		}
		if ev.TaskID != id {
			t.Fatalf("stream %s: event of task %s", id, ev.TaskID)
		}
		want++
		evs = append(evs, ev)
	}
	return evs
}

// followUntil streams until pred matches an event and returns the events so far.
func followUntil(t *testing.T, rt coderclaw.Runtime, id string, pred func(coderclaw.Event) bool) []coderclaw.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	var evs []coderclaw.Event
	for ev, err := range rt.Stream(ctx, id, 0) {
		if err != nil {
			t.Fatalf("stream %s: %v", id, err)
		}
		evs = append(evs, ev)
		if pred(ev) {
			return evs
		}
	}
	t.Fatalf("stream %s ended before the awaited event; got %s", id, describe(evs))
	return nil
}

func statuses(evs []coderclaw.Event) []coderclaw.Status {
	var out []coderclaw.Status
	for _, ev := range evs {
		if ev.Type == coderclaw.EventStatus {
			out = append(out, ev.Status)
		}
	}
	return out
}

func describe(evs []coderclaw.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %d %s %s %q", ev.Seq, ev.Type, ev.Status, ev.Message)
	}
	return b.String()
}

func wantCode(t *testing.T, what string, err error, code coderclaw.Code) {
	t.Helper()
	var e *coderclaw.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v (%T) is not a *coderclaw.Error", what, err, err)
	}
	if e.Code != code {
		t.Fatalf("%s: code %q (%s), want %q", what, e.Code, e.Message, code)
	}
	if e.Message == "" {
		t.Fatalf("%s: empty error message", what)
	}
}

func task(t *testing.T, rt coderclaw.Runtime, id string) coderclaw.Task {
	t.Helper()
	got, err := rt.Task(ctxFor(t), id)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	return got
}

func testLifecycleNoop(t *testing.T, rt coderclaw.Runtime) {
	req := coderclaw.SubmitRequest{
		Description: "conformance", Input: "nothing", AgentID: "noop",
		Project: "conf", Labels: map[string]string{"k": "v"}, Metadata: map[string]string{"m": "1"}, Priority: 3,
	}
	sub := submit(t, rt, req)
	if len(sub.ID) != 36 || sub.ID[14] != '7' {
		t.Errorf("id %q is not a UUIDv7", sub.ID)
	}
	if sub.Input != req.Input || sub.AgentID != "noop" || sub.Description != req.Description ||
		sub.Project != "conf" || sub.Labels["k"] != "v" || sub.Metadata["m"] != "1" || sub.Priority != 3 {
		t.Errorf("submitted task does not echo the request: %+v", sub)
	}
	if sub.Attempt != 1 || sub.CreatedAt.IsZero() {
		t.Errorf("submitted task: attempt %d, created %v", sub.Attempt, sub.CreatedAt)
	}
	evs := follow(t, rt, sub.ID, 0)
	want := []coderclaw.Status{coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.StatusRunning, coderclaw.StatusCompleted}
	if got := statuses(evs); !slices.Equal(got, want) {
		t.Fatalf("status events %v, want %v:%s", got, want, describe(evs))
	}
	last := evs[len(evs)-1]
	if !last.Terminal() || last.Time.IsZero() || last.Actor == "" {
		t.Errorf("terminal event %+v", last)
	}
	got := task(t, rt, sub.ID)
	if got.Status != coderclaw.StatusCompleted || got.Progress != 100 || got.LastSeq != last.Seq ||
		got.StartedAt == nil || got.FinishedAt == nil {
		t.Errorf("completed task %+v", got)
	}
	hist, err := rt.Events(ctxFor(t), sub.ID)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(hist) != len(evs) {
		t.Fatalf("Events returned %d events, Stream %d", len(hist), len(evs))
	}
	for i := range hist {
		if hist[i].Seq != evs[i].Seq || hist[i].Type != evs[i].Type || hist[i].Status != evs[i].Status || hist[i].Position != evs[i].Position {
			t.Errorf("event %d: Events %+v, Stream %+v", i, hist[i], evs[i])
		}
		if i > 0 && hist[i].Position <= hist[i-1].Position {
			t.Errorf("positions not increasing: %d then %d", hist[i-1].Position, hist[i].Position)
		}
	}
}

func testShellOutput(t *testing.T, rt coderclaw.Runtime) {
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo hello; echo oops >&2; echo world"})
	evs := follow(t, rt, sub.ID, 0)
	got := task(t, rt, sub.ID)
	if got.Status != coderclaw.StatusCompleted {
		t.Fatalf("status %s (error %q):%s", got.Status, got.Error, describe(evs))
	}
	if got.Output != "hello\nworld" {
		t.Errorf("output %q, want %q", got.Output, "hello\nworld")
	}
	var logs []string
	for _, ev := range evs {
		if ev.Type == coderclaw.EventLog {
			logs = append(logs, ev.Message)
		}
	}
	slices.Sort(logs)
	if !slices.Equal(logs, []string{"hello", "oops", "world"}) {
		t.Errorf("log events %q", logs)
	}
}

func testShellFailure(t *testing.T, rt coderclaw.Runtime) {
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo 'bad thing' >&2; exit 3"})
	evs := follow(t, rt, sub.ID, 0)
	if last := evs[len(evs)-1]; last.Status != coderclaw.StatusFailed {
		t.Fatalf("final event %+v, want failed", last)
	}
	got := task(t, rt, sub.ID)
	if got.Status != coderclaw.StatusFailed || !strings.Contains(got.Error, "exit status 3") || !strings.Contains(got.Error, "bad thing") {
		t.Errorf("failed task: status %s error %q", got.Status, got.Error)
	}
}

func testProgress(t *testing.T, rt coderclaw.Runtime) {
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo ::progress::40; echo step; echo ::progress::80"})
	evs := follow(t, rt, sub.ID, 0)
	var seen []int
	for _, ev := range evs {
		if ev.Type == coderclaw.EventProgress {
			seen = append(seen, ev.Progress)
		}
		if ev.Type == coderclaw.EventLog && strings.HasPrefix(ev.Message, "::progress::") {
			t.Errorf("progress line logged: %q", ev.Message)
		}
	}
	if len(seen) == 0 || seen[len(seen)-1] != 80 {
		t.Errorf("progress events %v, want the last to be 80:%s", seen, describe(evs))
	}
	if got := task(t, rt, sub.ID); got.Progress != 100 || got.Status != coderclaw.StatusCompleted {
		t.Errorf("task progress %d status %s", got.Progress, got.Status)
	}
}

func testSubmitInvalid(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	before, err := rt.Tasks(ctx, coderclaw.Filter{Limit: coderclaw.MaxPageSize})
	if err != nil {
		t.Fatalf("tasks: %v", err)
	}
	cases := map[string]coderclaw.SubmitRequest{
		"empty input":    {AgentID: "noop"},
		"blank input":    {AgentID: "noop", Input: " \n"},
		"no agent":       {Input: "x"},
		"unknown agent":  {Input: "x", AgentID: "no-such-agent"},
		"priority":       {Input: "x", AgentID: "noop", Priority: 1 << 20},
		"unknown parent": {Input: "x", AgentID: "noop", ParentID: "0190a0f8-0000-7000-8000-000000000000"},
	}
	for name, req := range cases {
		_, err := rt.Submit(ctx, req)
		wantCode(t, name, err, coderclaw.CodeInvalid)
	}
	after, err := rt.Tasks(ctx, coderclaw.Filter{Limit: coderclaw.MaxPageSize})
	if err != nil {
		t.Fatalf("tasks: %v", err)
	}
	if len(after.Tasks) != len(before.Tasks) {
		t.Errorf("invalid submissions stored tasks: %d before, %d after", len(before.Tasks), len(after.Tasks))
	}
	_, err = rt.Tasks(ctx, coderclaw.Filter{Status: []coderclaw.Status{"bogus"}})
	wantCode(t, "tasks with unknown status", err, coderclaw.CodeInvalid)
	_, err = rt.Tasks(ctx, coderclaw.Filter{Limit: coderclaw.MaxPageSize + 1})
	wantCode(t, "tasks with huge limit", err, coderclaw.CodeInvalid)
}

func testUnknownTask(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	const id = "0190a0f8-0000-7000-8000-000000000000"
	_, err := rt.Task(ctx, id)
	wantCode(t, "task", err, coderclaw.CodeNotFound)
	_, err = rt.Events(ctx, id)
	wantCode(t, "events", err, coderclaw.CodeNotFound)
	_, err = rt.Cancel(ctx, id)
	wantCode(t, "cancel", err, coderclaw.CodeNotFound)
	_, err = rt.Respond(ctx, id, "yes")
	wantCode(t, "respond", err, coderclaw.CodeNotFound)
	n := 0
	for _, err := range rt.Stream(ctx, id, 0) {
		n++
		wantCode(t, "stream", err, coderclaw.CodeNotFound)
	}
	if n != 1 {
		t.Errorf("stream of an unknown task yielded %d items, want 1 error", n)
	}
	_, err = rt.Task(ctx, "not a uuid / at all")
	wantCode(t, "task with a malformed id", err, coderclaw.CodeNotFound)
}

func testCancel(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo started; sleep 60; echo never"})
	followUntil(t, rt, sub.ID, func(ev coderclaw.Event) bool { return ev.Type == coderclaw.EventLog && ev.Message == "started" })
	_, err := rt.Respond(ctx, sub.ID, "not asked")
	wantCode(t, "respond to a running task", err, coderclaw.CodeConflict)
	got, err := rt.Cancel(ctx, sub.ID)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got.Status != coderclaw.StatusCancelled {
		t.Fatalf("cancel returned status %s", got.Status)
	}
	evs := follow(t, rt, sub.ID, 0)
	if last := evs[len(evs)-1]; last.Status != coderclaw.StatusCancelled {
		t.Fatalf("last event %+v, want cancelled:%s", last, describe(evs))
	}
	for _, ev := range evs {
		if ev.Message == "never" {
			t.Errorf("cancelled command kept running: %s", describe(evs))
		}
	}
	_, err = rt.Cancel(ctx, sub.ID)
	wantCode(t, "cancel twice", err, coderclaw.CodeConflict)
	if after := task(t, rt, sub.ID); after.Status != coderclaw.StatusCancelled || after.LastSeq != evs[len(evs)-1].Seq {
		t.Errorf("task changed after the second cancel: %+v", after)
	}
	done := submit(t, rt, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	follow(t, rt, done.ID, 0)
	_, err = rt.Cancel(ctx, done.ID)
	wantCode(t, "cancel a completed task", err, coderclaw.CodeConflict)
	if after := task(t, rt, done.ID); after.Status != coderclaw.StatusCompleted {
		t.Errorf("cancel changed a completed task to %s", after.Status)
	}
}

func testRespond(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell",
		Input: `echo before; echo '::ask::What is your name?'; read name; echo "hello $name"`})
	evs := followUntil(t, rt, sub.ID, func(ev coderclaw.Event) bool { return ev.Type == coderclaw.EventQuestion })
	if q := evs[len(evs)-1]; q.Message != "What is your name?" {
		t.Fatalf("question %q", q.Message)
	}
	followUntil(t, rt, sub.ID, func(ev coderclaw.Event) bool { return ev.Status == coderclaw.StatusWaiting })
	if st := task(t, rt, sub.ID).Status; st != coderclaw.StatusWaiting {
		t.Fatalf("status %s, want waiting", st)
	}
	got, err := rt.Respond(ctx, sub.ID, "bob")
	if err != nil {
		t.Fatalf("respond: %v", err)
	}
	if got.Status != coderclaw.StatusRunning {
		t.Errorf("respond returned status %s, want running", got.Status)
	}
	evs = follow(t, rt, sub.ID, 0)
	final := task(t, rt, sub.ID)
	if final.Status != coderclaw.StatusCompleted || final.Output != "before\nhello bob" {
		t.Fatalf("final task status %s output %q:%s", final.Status, final.Output, describe(evs))
	}
	want := []coderclaw.Status{coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.StatusRunning,
		coderclaw.StatusWaiting, coderclaw.StatusRunning, coderclaw.StatusCompleted}
	if got := statuses(evs); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	var inputs int
	for _, ev := range evs {
		if ev.Type == coderclaw.EventInput {
			inputs++
		}
	}
	if inputs != 1 {
		t.Errorf("%d input events, want 1", inputs)
	}
	_, err = rt.Respond(ctx, sub.ID, "again")
	wantCode(t, "respond to a completed task", err, coderclaw.CodeConflict)
}

func testStreamResume(t *testing.T, rt coderclaw.Runtime) {
	sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; done"})
	all := follow(t, rt, sub.ID, 0)
	if len(all) < 8 {
		t.Fatalf("only %d events:%s", len(all), describe(all))
	}
	for _, k := range []int64{1, 3, int64(len(all)) - 1} {
		rest := follow(t, rt, sub.ID, k)
		if int64(len(rest)) != int64(len(all))-k {
			t.Fatalf("resume after %d: %d events, want %d", k, len(rest), int64(len(all))-k)
		}
		for i, ev := range rest {
			if ev.Seq != all[int(k)+i].Seq || ev.Message != all[int(k)+i].Message {
				t.Fatalf("resume after %d: event %+v, want %+v", k, ev, all[int(k)+i])
			}
		}
	}
	if rest := follow(t, rt, sub.ID, int64(len(all))); len(rest) != 0 {
		t.Errorf("resume after the terminal event yielded %d events", len(rest))
	}
}

func testListAndPage(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	project := fmt.Sprintf("page-%d", time.Now().UnixNano())
	var ids []string
	for i := range 5 {
		sub := submit(t, rt, coderclaw.SubmitRequest{AgentID: "noop", Input: fmt.Sprint(i), Project: project, SessionID: "s-" + project})
		ids = append(ids, sub.ID)
	}
	for _, id := range ids {
		follow(t, rt, id, 0)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("paging does not end")
		}
		page, err := rt.Tasks(ctx, coderclaw.Filter{Project: project, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("tasks: %v", err)
		}
		if len(page.Tasks) > 2 {
			t.Fatalf("page of %d tasks with limit 2", len(page.Tasks))
		}
		for _, tk := range page.Tasks {
			got = append(got, tk.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := slices.Clone(ids)
	slices.Reverse(want) // newest first
	if !slices.Equal(got, want) {
		t.Fatalf("paged ids %v, want %v", got, want)
	}
	page, err := rt.Tasks(ctx, coderclaw.Filter{Project: project, Status: []coderclaw.Status{coderclaw.StatusCompleted}, AgentID: "noop", SessionID: "s-" + project})
	if err != nil || len(page.Tasks) != 5 {
		t.Fatalf("filter completed: %d tasks, err %v", len(page.Tasks), err)
	}
	page, err = rt.Tasks(ctx, coderclaw.Filter{Project: project, Status: []coderclaw.Status{coderclaw.StatusFailed, coderclaw.StatusRunning}})
	if err != nil || len(page.Tasks) != 0 {
		t.Fatalf("filter failed|running: %d tasks, err %v", len(page.Tasks), err)
	}
	page, err = rt.Tasks(ctx, coderclaw.Filter{Project: project, AgentID: "shell"})
	if err != nil || len(page.Tasks) != 0 {
		t.Fatalf("filter by another agent: %d tasks, err %v", len(page.Tasks), err)
	}
}

func testParentChild(t *testing.T, rt coderclaw.Runtime) {
	parent := submit(t, rt, coderclaw.SubmitRequest{AgentID: "noop", Input: "parent"})
	a := submit(t, rt, coderclaw.SubmitRequest{AgentID: "noop", Input: "a", ParentID: parent.ID})
	b := submit(t, rt, coderclaw.SubmitRequest{AgentID: "shell", Input: "exit 1", ParentID: parent.ID})
	follow(t, rt, a.ID, 0)
	follow(t, rt, b.ID, 0)
	got := task(t, rt, parent.ID)
	if len(got.Children) != 2 {
		t.Fatalf("parent lists %d children, want 2: %+v", len(got.Children), got.Children)
	}
	states := map[string]coderclaw.Status{}
	for _, c := range got.Children {
		states[c.ID] = c.Status
	}
	if states[a.ID] != coderclaw.StatusCompleted || states[b.ID] != coderclaw.StatusFailed {
		t.Errorf("children states %v", states)
	}
	page, err := rt.Tasks(ctxFor(t), coderclaw.Filter{ParentID: parent.ID})
	if err != nil || len(page.Tasks) != 2 {
		t.Fatalf("filter by parent: %d tasks, err %v", len(page.Tasks), err)
	}
	if child := task(t, rt, a.ID); child.ParentID != parent.ID {
		t.Errorf("child parent_id %q", child.ParentID)
	}
}

func testDiscovery(t *testing.T, rt coderclaw.Runtime) {
	ctx := ctxFor(t)
	agents, err := rt.Agents(ctx)
	if err != nil {
		t.Fatalf("agents: %v", err)
	}
	avail := map[string]bool{}
	for _, a := range agents {
		avail[a.ID] = a.Available
		if !a.Available && a.Reason == "" {
			t.Errorf("agent %s unavailable without a reason", a.ID)
		}
	}
	if !avail["shell"] || !avail["noop"] {
		t.Errorf("agents %+v: want shell and noop available", agents)
	}
	if _, err := rt.Skills(ctx); err != nil {
		t.Fatalf("skills: %v", err)
	}
	st, err := rt.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.NodeID == "" || st.Mode == "" || st.Version == "" || st.Workers < 1 || !st.Store.OK || st.StartedAt.IsZero() ||
		st.Store.Backend == "" || strings.ContainsAny(st.Store.Backend, "*.") {
		t.Errorf("status %+v", st)
	}
}

func testConcurrent(t *testing.T, rt coderclaw.Runtime) {
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			agentID := "noop"
			if i%4 == 0 {
				agentID = "shell"
			}
			sub, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: agentID, Input: fmt.Sprintf("echo %d", i)})
			if err != nil {
				errs <- err
				return
			}
			var last coderclaw.Event
			next := int64(1)
			for ev, err := range rt.Stream(ctx, sub.ID, 0) {
				if err != nil {
					errs <- fmt.Errorf("stream %s: %w", sub.ID, err)
					return
				}
				if ev.Seq != next {
					errs <- fmt.Errorf("stream %s: seq %d, want %d", sub.ID, ev.Seq, next)
					return
				}
				next++
				last = ev
			}
			if last.Status != coderclaw.StatusCompleted {
				errs <- fmt.Errorf("task %s ended %s", sub.ID, last.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
