// Package storetest is the conformance suite of store.Store. Every backend
// runs it from its own tests:
//
//	func TestExercise(t *testing.T) {
//		storetest.Exercise(t, func(t *testing.T) store.Store { ... a new, empty store ... })
//	}
//
// The suite uses only the store.Store interface. Each subtest gets a new,
// empty store from newStore (which should close it in t.Cleanup; the suite
// may close it first, so Close must be safe to call twice) and runs in
// parallel with the others. Time comes from a test clock passed in every
// request, never from sleeping; times are whole milliseconds, so a backend
// needs microsecond precision only.
//
// Beyond the doc comments of store.Store, the suite pins down what callers
// rely on and every backend must agree on: tasks are listed by id
// descending (UUIDv7 ids make that newest first) with keyset cursors;
// Filter.CreatedAfter is inclusive and CreatedBefore exclusive; Claim
// returns tasks in claim order; a requeue adds one to the attempt; a
// duplicate id is a conflict and a malformed event is invalid (both
// *coderclaw.Error); Counts has an entry for every status; a context that
// has ended stops a write before it is applied.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// Exercise runs the conformance suite against the stores newStore makes.
func Exercise(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CreateTask", testCreateTask},
		{"CreateTaskDuplicate", testCreateTaskDuplicate},
		{"TransitionLifecycle", testTransitionLifecycle},
		{"TransitionInvalid", testTransitionInvalid},
		{"TransitionRequeue", testTransitionRequeue},
		{"TransitionAtomic", testTransitionAtomic},
		{"TransitionLeaseOwner", testTransitionLeaseOwner},
		{"TerminalNeverChanges", testTerminalNeverChanges},
		{"FencedWrites", testFencedWrites},
		{"ClaimOrder", testClaimOrder},
		{"ClaimLease", testClaimLease},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Heartbeat", testHeartbeat},
		{"Append", testAppend},
		{"AppendMalformed", testAppendMalformed},
		{"AppendConcurrent", testAppendConcurrent},
		{"RescueExpired", testRescueExpired},
		{"RescueMaxAttempts", testRescueMaxAttempts},
		{"RescueRestartedOwner", testRescueRestartedOwner},
		{"RescueSkipsWaiting", testRescueSkipsWaiting},
		{"TasksFilter", testTasksFilter},
		{"TasksPaging", testTasksPaging},
		{"Events", testEvents},
		{"EventsSince", testEventsSince},
		{"NotFound", testNotFound},
		{"Counts", testCounts},
		{"ConcurrentLifecycles", testConcurrentLifecycles},
		{"MixedBatch", testMixedBatch},
		{"ContextDone", testContextDone},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t, newStore(t)))
		})
	}
}

func testCreateTask(t *testing.T, h *harness) {
	in := h.newTask(func(t *coderclaw.Task) {
		t.Description, t.Input, t.AgentID = "fix the bug", "make the tests pass", "code-creator"
		t.SessionID, t.Project, t.Repo = "session-1", "project-1", "git@example.com:a/b.git"
		t.Labels = map[string]string{"os": "linux", "gpu": "no"}
		t.Metadata = map[string]string{"ticket": "CC-1"}
		t.Priority, t.MaxAttempts = 7, 5
		t.Submitter = coderclaw.Principal{UserID: "user-1", SessionID: "session-1", DeviceID: "device-1",
			Roles: []string{"developer", "reviewer"}, Method: "session"}
	})
	got, err := h.s.CreateTask(h.ctx, in, "session:session-1")
	if err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	want := in
	want.Status, want.LastSeq = coderclaw.StatusPending, 1
	sameTask(t, "CreateTask returned", want, got)
	sameTask(t, "Task after CreateTask", want, h.task(in.ID))

	evs := h.events(in.ID)
	if len(evs) != 1 {
		t.Fatalf("events after create: %+v, want one", evs)
	}
	e := evs[0]
	if e.TaskID != in.ID || e.Seq != 1 || e.Type != coderclaw.EventStatus || e.Status != coderclaw.StatusPending ||
		e.Actor != "session:session-1" || !e.Time.Equal(in.CreatedAt) || e.Position <= 0 || e.Progress != 0 {
		t.Errorf("first event %+v, want seq 1 status/pending by session:session-1 at %v with a position", e, in.CreatedAt)
	}

	// A task without labels or metadata, with a parent.
	child := h.create(func(t *coderclaw.Task) { t.ParentID = in.ID })
	if child.Labels != nil || child.Metadata != nil || child.ParentID != in.ID || child.Attempt != 1 {
		t.Errorf("child as stored: %+v", child)
	}
	sameTask(t, "child", child, h.task(child.ID))
}

func testCreateTaskDuplicate(t *testing.T, h *harness) {
	orig := h.create()
	snap := h.snapshot(orig.ID)
	dup := orig
	dup.Input = "something else"
	_, err := h.s.CreateTask(h.ctx, dup, "tester")
	wantCode(t, "CreateTask with a taken id", err, coderclaw.CodeConflict)
	h.unchanged(snap, "duplicate CreateTask")

	_, err = h.s.CreateTask(h.ctx, coderclaw.Task{Input: "x", AgentID: "a", Attempt: 1, MaxAttempts: 1, CreatedAt: h.tick()}, "tester")
	wantCode(t, "CreateTask without id", err, coderclaw.CodeInvalid)
}

func testTransitionLifecycle(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	if task.Status != coderclaw.StatusRunning || task.Attempt != 1 || task.LastSeq != 3 {
		t.Fatalf("claimed task %+v, want running attempt 1 last_seq 3", task)
	}

	// running -> waiting (fenced), with the question written first.
	askAt := h.tick()
	got := h.transition(store.Transition{
		TaskID: task.ID, To: coderclaw.StatusWaiting, Attempt: 1, Now: askAt,
		Events: []store.NewEvent{{Type: coderclaw.EventQuestion, Actor: "agent-a", Message: "which branch?", Time: askAt}},
		Actor:  "agent-a", Message: "asked a question",
	})
	if got.Status != coderclaw.StatusWaiting || got.LastSeq != 5 || !got.UpdatedAt.Equal(askAt) {
		t.Fatalf("after waiting: %+v", got)
	}
	sameTask(t, "Task after waiting", got, h.task(task.ID))

	// waiting -> running (unfenced, as Respond does), with the answer.
	got = h.transition(store.Transition{
		TaskID: task.ID, To: coderclaw.StatusRunning,
		Events: []store.NewEvent{{Type: coderclaw.EventInput, Actor: "api", Message: "main"}},
		Actor:  "api", Message: "resumed",
	})
	if got.Status != coderclaw.StatusRunning || got.LastSeq != 7 {
		t.Fatalf("after resume: %+v", got)
	}
	if got.StartedAt == nil || !got.StartedAt.Equal(*task.StartedAt) {
		t.Errorf("resume changed started_at from %v to %v", task.StartedAt, got.StartedAt)
	}

	// running -> completed (fenced) with output and progress.
	doneAt := h.tick()
	got = h.transition(store.Transition{
		TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 1, Now: doneAt,
		Output: strp("all green"), Progress: intp(100),
		Events: []store.NewEvent{{Type: coderclaw.EventOutput, Actor: "agent-a", Message: "all green", Data: json.RawMessage(`{"files":2}`)}},
		Actor:  "executor", Message: "completed",
	})
	if got.Status != coderclaw.StatusCompleted || got.Output != "all green" || got.Progress != 100 || got.LastSeq != 9 ||
		got.FinishedAt == nil || !got.FinishedAt.Equal(doneAt) || !got.UpdatedAt.Equal(doneAt) {
		t.Fatalf("after complete: %+v", got)
	}
	sameTask(t, "Task after complete", got, h.task(task.ID))

	evs := h.events(task.ID)
	checkSeqs(t, task.ID, evs)
	want := []string{"status/pending", "status/planning", "status/running", "question", "status/waiting",
		"input", "status/running", "output", "status/completed"}
	if g := lifecycleOf(evs); !slices.Equal(g, want) {
		t.Fatalf("history %v, want %v", g, want)
	}
	if e := evs[3]; e.Message != "which branch?" || e.Actor != "agent-a" || !e.Time.Equal(askAt) {
		t.Errorf("question event %+v", e)
	}
	if e := evs[4]; e.Message != "asked a question" || e.Actor != "agent-a" || !e.Time.Equal(askAt) {
		t.Errorf("waiting event %+v", e)
	}
	if e := evs[7]; string(e.Data) == "" {
		t.Errorf("output event lost its data: %+v", e)
	} else {
		var v map[string]int
		if err := json.Unmarshal(e.Data, &v); err != nil || v["files"] != 2 {
			t.Errorf("output event data %s, want {\"files\":2}", e.Data)
		}
	}
	if e := evs[8]; e.Progress != 100 || e.Message != "completed" || e.Actor != "executor" || !e.Time.Equal(doneAt) {
		t.Errorf("completed event %+v, want progress 100 by executor at %v", e, doneAt)
	}
	if got.LastSeq != evs[len(evs)-1].Seq {
		t.Errorf("last_seq %d, last event %d", got.LastSeq, evs[len(evs)-1].Seq)
	}
}

func testTransitionInvalid(t *testing.T, h *harness) {
	pending := h.create()
	running := h.createRunning("worker-1")
	waiting := h.createRunning("worker-1")
	h.transition(store.Transition{TaskID: waiting.ID, To: coderclaw.StatusWaiting, Attempt: 1})

	for _, c := range []struct {
		task     coderclaw.Task
		from, to coderclaw.Status
		cause    coderclaw.Cause
	}{
		{pending, coderclaw.StatusPending, coderclaw.StatusCompleted, coderclaw.ByRequest},
		{pending, coderclaw.StatusPending, coderclaw.StatusRunning, coderclaw.ByRequest},
		{pending, coderclaw.StatusPending, coderclaw.StatusWaiting, coderclaw.ByRequest},
		{pending, coderclaw.StatusPending, coderclaw.StatusPending, coderclaw.ByRecovery},
		{running, coderclaw.StatusRunning, coderclaw.StatusPending, coderclaw.ByRequest},
		{running, coderclaw.StatusRunning, coderclaw.StatusPlanning, coderclaw.ByRequest},
		{running, coderclaw.StatusRunning, coderclaw.StatusRunning, coderclaw.ByRequest},
		{waiting, coderclaw.StatusWaiting, coderclaw.StatusCompleted, coderclaw.ByRequest},
		{waiting, coderclaw.StatusWaiting, coderclaw.StatusPending, coderclaw.ByRecovery},
		{running, coderclaw.StatusRunning, coderclaw.Status("bogus"), coderclaw.ByRequest},
	} {
		what := fmt.Sprintf("%s -> %s (cause %d)", c.from, c.to, c.cause)
		snap := h.snapshot(c.task.ID)
		_, err := h.s.Transition(h.ctx, store.Transition{
			TaskID: c.task.ID, To: c.to, Cause: c.cause, Now: h.tick(),
			Output: strp("nope"), Error: strp("nope"), Progress: intp(50),
			Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "must not be written"}},
		})
		wantInvalidTransition(t, what, err, c.from, c.to)
		h.unchanged(snap, what)
	}
}

func testTransitionRequeue(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	h.append(task.ID, 1, store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(30)})
	got := h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusPending, Cause: coderclaw.ByRecovery, Actor: "recovery"})
	if got.Status != coderclaw.StatusPending || got.Attempt != 2 || got.Progress != 0 {
		t.Fatalf("requeued task %+v, want pending, attempt 2, progress 0", got)
	}
	sameTask(t, "Task after requeue", got, h.task(task.ID))
	// The first execution is fenced out; the next claim runs attempt 2.
	_, err := h.s.Append(h.ctx, task.ID, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "late"}})
	wantIs(t, "Append by the requeued execution", err, store.ErrLeaseLost)
	again := h.claimOne("worker-2")
	if again.ID != task.ID || again.Attempt != 2 {
		t.Fatalf("claimed %s attempt %d, want %s attempt 2", again.ID, again.Attempt, task.ID)
	}
}

func testTransitionAtomic(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	snap := h.snapshot(task.ID)
	// Refused for every reason there is; none may leave an event behind.
	_, err := h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusPending, Now: h.tick(),
		Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "a"}, {Type: coderclaw.EventProgress, Progress: intp(10)}}})
	wantInvalidTransition(t, "running -> pending by request", err, coderclaw.StatusRunning, coderclaw.StatusPending)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 2, Now: h.tick(),
		Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "b"}}})
	wantIs(t, "stale attempt", err, store.ErrLeaseLost)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Now: h.tick(),
		Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "c"}, {Type: coderclaw.EventStatus, Status: coderclaw.StatusFailed}}})
	wantCode(t, "status event in Events", err, coderclaw.CodeInvalid)
	h.unchanged(snap, "refused transitions")

	// And an accepted one writes its state and all its events together.
	got := h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 1,
		Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}, {Type: coderclaw.EventLog, Message: "y"}}})
	evs := h.events(task.ID)
	checkSeqs(t, task.ID, evs)
	if len(evs) != 6 || got.LastSeq != 6 {
		t.Fatalf("after complete with two events: last_seq %d, history %v", got.LastSeq, lifecycleOf(evs))
	}
}

func testTransitionLeaseOwner(t *testing.T, h *harness) {
	task := h.createRunning("node-a") // lease until claim time + 1m
	h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusWaiting, Attempt: 1})
	now := h.tick()
	leaseUntil := now.Add(10 * time.Minute)
	got := h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusRunning, Now: now,
		LeaseOwner: "node-b", LeaseUntil: leaseUntil, Actor: "api"})
	if got.Status != coderclaw.StatusRunning || got.Attempt != 1 {
		t.Fatalf("resumed task %+v", got)
	}
	// node-b holds the lease now, until leaseUntil.
	lost, err := h.s.Heartbeat(h.ctx, "node-a", []store.Lease{{TaskID: task.ID, Attempt: 1}}, now.Add(time.Hour))
	if err != nil || !slices.Equal(lost, []string{task.ID}) {
		t.Fatalf("Heartbeat by the old owner: lost %v, err %v; want the task lost", lost, err)
	}
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: leaseUntil.Add(-time.Second), Actor: "recovery"})
	if err != nil || len(rescued) != 0 {
		t.Fatalf("Rescue before the new lease ends: %v, %v; want nothing", ids(rescued), err)
	}
	lost, err = h.s.Heartbeat(h.ctx, "node-b", []store.Lease{{TaskID: task.ID, Attempt: 1}}, leaseUntil.Add(time.Minute))
	if err != nil || len(lost) != 0 {
		t.Fatalf("Heartbeat by the new owner: lost %v, err %v", lost, err)
	}
	rescued, err = h.s.Rescue(h.ctx, store.Rescue{Now: leaseUntil.Add(time.Minute + time.Second), Actor: "recovery"})
	if err != nil || !slices.Equal(ids(rescued), []string{task.ID}) {
		t.Fatalf("Rescue after the new lease ends: %v, %v; want the task", ids(rescued), err)
	}
}

func testTerminalNeverChanges(t *testing.T, h *harness) {
	completed := h.createRunning("worker-1")
	h.transition(store.Transition{TaskID: completed.ID, To: coderclaw.StatusCompleted, Attempt: 1})
	failed := h.create()
	h.transition(store.Transition{TaskID: failed.ID, To: coderclaw.StatusFailed, Error: strp("boom")})
	cancelled := h.createRunning("worker-1")
	h.transition(store.Transition{TaskID: cancelled.ID, To: coderclaw.StatusCancelled})

	for _, task := range []coderclaw.Task{completed, failed, cancelled} {
		snap := h.snapshot(task.ID)
		from := snap.task.Status
		if !from.Terminal() {
			t.Fatalf("task %s is %s, want terminal", task.ID, from)
		}
		for _, to := range coderclaw.Statuses() {
			for _, cause := range []coderclaw.Cause{coderclaw.ByRequest, coderclaw.ByRecovery} {
				_, err := h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: to, Cause: cause, Now: h.tick(),
					Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "late"}}})
				wantInvalidTransition(t, fmt.Sprintf("%s -> %s", from, to), err, from, to)
				_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: to, Cause: cause, Attempt: task.Attempt, Now: h.tick()})
				wantIs(t, fmt.Sprintf("fenced %s -> %s", from, to), err, store.ErrLeaseLost)
			}
		}
		_, err := h.s.Append(h.ctx, task.ID, task.Attempt, []store.NewEvent{{Type: coderclaw.EventLog, Message: "late"}})
		wantIs(t, "Append to a "+string(from)+" task", err, store.ErrLeaseLost)
		lost, err := h.s.Heartbeat(h.ctx, "worker-1", []store.Lease{{TaskID: task.ID, Attempt: task.Attempt}}, h.clock().Add(time.Hour))
		if err != nil || !slices.Equal(lost, []string{task.ID}) {
			t.Errorf("Heartbeat of a %s task: lost %v, err %v", from, lost, err)
		}
		h.unchanged(snap, "writes to a "+string(from)+" task")
	}
	if got := h.claim("worker-2", 10); len(got) != 0 {
		t.Errorf("Claim took terminal tasks %v", ids(got))
	}
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: h.clock().Add(24 * time.Hour), RestartedOwner: "worker-1"})
	if err != nil || len(rescued) != 0 {
		t.Errorf("Rescue: %v, %v; want nothing", ids(rescued), err)
	}
}

func testFencedWrites(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	snap := h.snapshot(task.ID)
	_, err := h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 2, Now: h.tick(), Output: strp("x")})
	wantIs(t, "Transition with a wrong attempt", err, store.ErrLeaseLost)
	_, err = h.s.Append(h.ctx, task.ID, 2, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append with a wrong attempt", err, store.ErrLeaseLost)
	_, err = h.s.Append(h.ctx, task.ID, 0, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append with no attempt", err, store.ErrLeaseLost)
	h.unchanged(snap, "stale writes")

	// A pending task is held by nobody: fenced writes are refused.
	pending := h.create()
	psnap := h.snapshot(pending.ID)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: pending.ID, To: coderclaw.StatusCancelled, Attempt: 1, Now: h.tick()})
	wantIs(t, "fenced Transition of a pending task", err, store.ErrLeaseLost)
	_, err = h.s.Append(h.ctx, pending.ID, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append to a pending task", err, store.ErrLeaseLost)
	h.unchanged(psnap, "fenced writes to a pending task")

	// The lease lapses, the task is requeued and claimed by another worker:
	// the first worker's late writes are refused, the second's applied.
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: h.advance(2 * time.Minute), Actor: "recovery"})
	if err != nil || !slices.Contains(ids(rescued), task.ID) {
		t.Fatalf("Rescue: %v, %v; want %s", ids(rescued), err, task.ID)
	}
	second := h.claim("worker-2", 10)
	idx := slices.IndexFunc(second, func(t coderclaw.Task) bool { return t.ID == task.ID })
	if idx < 0 || second[idx].Attempt != 2 {
		t.Fatalf("second claim %+v, want %s at attempt 2", second, task.ID)
	}
	snap = h.snapshot(task.ID)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 1, Now: h.tick()})
	wantIs(t, "late Transition of the first execution", err, store.ErrLeaseLost)
	_, err = h.s.Append(h.ctx, task.ID, 1, []store.NewEvent{{Type: coderclaw.EventProgress, Progress: intp(99)}})
	wantIs(t, "late Append of the first execution", err, store.ErrLeaseLost)
	h.unchanged(snap, "late writes of the first execution")
	h.append(task.ID, 2, store.NewEvent{Type: coderclaw.EventLog, Message: "second"})

	// A waiting task accepts fenced transitions but no appends.
	h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusWaiting, Attempt: 2})
	_, err = h.s.Append(h.ctx, task.ID, 2, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append to a waiting task", err, store.ErrLeaseLost)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusRunning, Attempt: 1, Now: h.tick()})
	wantIs(t, "stale Transition of a waiting task", err, store.ErrLeaseLost)
	got := h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusCancelled, Attempt: 2})
	if got.Status != coderclaw.StatusCancelled {
		t.Fatalf("fenced cancel of a waiting task: %+v", got)
	}
}

func testClaimOrder(t *testing.T, h *harness) {
	p0 := h.create(withPriority(0))
	p5a := h.create(withPriority(5))
	p5b := h.create(withPriority(5))
	pm1 := h.create(withPriority(-1))
	p10 := h.create(withPriority(10))

	now := h.tick()
	until := now.Add(time.Minute)
	got, err := h.s.Claim(h.ctx, store.Claim{Owner: "worker-1", Limit: 2, Now: now, LeaseUntil: until, Actor: "scheduler"})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if want := []string{p10.ID, p5a.ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("first claim %v, want %v (priority 10, then the older priority 5)", ids(got), want)
	}
	for _, c := range got {
		if c.Status != coderclaw.StatusRunning || c.Attempt != 1 || c.LastSeq != 3 ||
			c.StartedAt == nil || !c.StartedAt.Equal(now) || !c.UpdatedAt.Equal(now) || c.FinishedAt != nil {
			t.Errorf("claimed task %+v, want running, attempt 1, last_seq 3, started and updated at %v", c, now)
		}
		sameTask(t, "Task after claim", c, h.task(c.ID))
		evs := h.events(c.ID)
		checkSeqs(t, c.ID, evs)
		if g, w := lifecycleOf(evs), []string{"status/pending", "status/planning", "status/running"}; !slices.Equal(g, w) {
			t.Fatalf("history after claim %v, want %v", g, w)
		}
		for _, e := range evs[1:] {
			if e.Actor != "scheduler" || !e.Time.Equal(now) {
				t.Errorf("claim event %+v, want by scheduler at %v", e, now)
			}
		}
	}

	got = h.claim("worker-2", 10)
	if want := []string{p5b.ID, p0.ID, pm1.ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("second claim %v, want %v", ids(got), want)
	}
	if got := h.claim("worker-3", 10); len(got) != 0 {
		t.Fatalf("claim with nothing pending took %v", ids(got))
	}
	// Limit bounds the claim.
	for range 3 {
		h.create()
	}
	if got := h.claim("worker-3", 2); len(got) != 2 {
		t.Fatalf("Claim(limit 2) took %d tasks", len(got))
	}
	if got := h.claim("worker-3", 2); len(got) != 1 {
		t.Fatalf("Claim(limit 2) with one pending took %d tasks", len(got))
	}
}

func testClaimLease(t *testing.T, h *harness) {
	h.create()
	now := h.tick()
	until := now.Add(30 * time.Second)
	got, err := h.s.Claim(h.ctx, store.Claim{Owner: "worker-1", Limit: 1, Now: now, LeaseUntil: until, Actor: "scheduler"})
	if err != nil || len(got) != 1 {
		t.Fatalf("Claim: %v, %v", ids(got), err)
	}
	id := got[0].ID
	lost, err := h.s.Heartbeat(h.ctx, "worker-1", []store.Lease{{TaskID: id, Attempt: 1}}, until)
	if err != nil || len(lost) != 0 {
		t.Fatalf("Heartbeat by the claimer: lost %v, err %v", lost, err)
	}
	for _, at := range []time.Time{until.Add(-time.Millisecond), until} {
		rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: at})
		if err != nil || len(rescued) != 0 {
			t.Fatalf("Rescue at %v (lease until %v): %v, %v; want nothing", at, until, ids(rescued), err)
		}
	}
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: until.Add(time.Millisecond)})
	if err != nil || !slices.Equal(ids(rescued), []string{id}) {
		t.Fatalf("Rescue after the lease: %v, %v; want %s", ids(rescued), err, id)
	}
}

func testClaimConcurrent(t *testing.T, h *harness) {
	const tasks, workers = 120, 8
	created := make([]string, tasks)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < tasks; i += workers {
				in := h.newTask()
				if _, err := h.s.CreateTask(h.ctx, in, "tester"); err != nil {
					t.Errorf("CreateTask: %v", err)
					return
				}
				created[i] = in.ID
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	claimed := make([][]string, workers)
	now := h.tick()
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for {
				got, err := h.s.Claim(h.ctx, store.Claim{Owner: owner, Limit: 1 + w%4, Now: now, LeaseUntil: now.Add(time.Minute)})
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ids(got)...)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for w, c := range claimed {
		for _, id := range c {
			if prev, dup := seen[id]; dup {
				t.Errorf("task %s claimed by worker %d and worker %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	for _, id := range created {
		if _, ok := seen[id]; !ok {
			t.Errorf("task %s never claimed", id)
		}
	}
	if len(seen) != tasks {
		t.Errorf("claimed %d distinct tasks, want %d", len(seen), tasks)
	}
}

func testHeartbeat(t *testing.T, h *harness) {
	a := h.createRunning("worker-1")
	b := h.createRunning("worker-1")
	c := h.createRunning("worker-1")
	leaseEnd := h.clock().Add(time.Minute) // the last claim's lease; a's and b's end sooner
	later := leaseEnd.Add(time.Hour)

	lost, err := h.s.Heartbeat(h.ctx, "worker-1", []store.Lease{{TaskID: a.ID, Attempt: 1}, {TaskID: b.ID, Attempt: 1}}, later)
	if err != nil || len(lost) != 0 {
		t.Fatalf("Heartbeat of held leases: lost %v, err %v", lost, err)
	}
	// a and b were extended, c was not.
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: leaseEnd.Add(time.Second)})
	if err != nil || !slices.Equal(ids(rescued), []string{c.ID}) {
		t.Fatalf("Rescue after the first leases: %v, %v; want only %s", ids(rescued), err, c.ID)
	}

	for _, tc := range []struct {
		what   string
		owner  string
		leases []store.Lease
		lost   []string
	}{
		{"wrong owner", "worker-2", []store.Lease{{TaskID: a.ID, Attempt: 1}}, []string{a.ID}},
		{"wrong attempt", "worker-1", []store.Lease{{TaskID: a.ID, Attempt: 2}}, []string{a.ID}},
		{"requeued task", "worker-1", []store.Lease{{TaskID: c.ID, Attempt: 1}}, []string{c.ID}},
		{"unknown task", "worker-1", []store.Lease{{TaskID: "0190a5f0-0000-7000-8000-000000000000", Attempt: 1}}, []string{"0190a5f0-0000-7000-8000-000000000000"}},
		{"mixed", "worker-1", []store.Lease{{TaskID: a.ID, Attempt: 1}, {TaskID: c.ID, Attempt: 2}, {TaskID: b.ID, Attempt: 1}}, []string{c.ID}},
	} {
		lost, err := h.s.Heartbeat(h.ctx, tc.owner, tc.leases, later)
		if err != nil || !slices.Equal(sortedCopy(lost), sortedCopy(tc.lost)) {
			t.Errorf("Heartbeat (%s): lost %v, err %v; want lost %v", tc.what, lost, err, tc.lost)
		}
	}
	// A waiting task is held by nobody.
	h.transition(store.Transition{TaskID: b.ID, To: coderclaw.StatusWaiting, Attempt: 1})
	lost, err = h.s.Heartbeat(h.ctx, "worker-1", []store.Lease{{TaskID: a.ID, Attempt: 1}, {TaskID: b.ID, Attempt: 1}}, later)
	if err != nil || !slices.Equal(lost, []string{b.ID}) {
		t.Errorf("Heartbeat of a waiting task: lost %v, err %v; want %s", lost, err, b.ID)
	}
	// A refused heartbeat extends nothing: worker-2's "later + 1h" did not
	// apply to a, whose lease ends at later.
	if _, err := h.s.Heartbeat(h.ctx, "worker-2", []store.Lease{{TaskID: a.ID, Attempt: 1}}, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rescued, err = h.s.Rescue(h.ctx, store.Rescue{Now: later.Add(time.Second)})
	if err != nil || !slices.Equal(ids(rescued), []string{a.ID}) {
		t.Fatalf("Rescue after the extended lease: %v, %v; want %s", ids(rescued), err, a.ID)
	}
}

func testAppend(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	at := h.tick()
	got := h.append(task.ID, 1,
		store.NewEvent{Type: coderclaw.EventLog, Actor: "agent-a", Message: "hello", Time: at, Data: json.RawMessage(`{"stream":"stdout"}`)},
		store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(40), Actor: "agent-a", Time: at},
		store.NewEvent{Type: coderclaw.EventLog, Actor: "agent-a", Message: "after", Time: at},
	)
	if len(got) != 3 {
		t.Fatalf("Append returned %d events, want 3", len(got))
	}
	for i, e := range got {
		wantProgress := 40
		if i == 0 {
			wantProgress = 0
		}
		if e.TaskID != task.ID || e.Seq != int64(4+i) || e.Progress != wantProgress || !e.Time.Equal(at) {
			t.Errorf("appended event %d: %+v, want seq %d progress %d at %v", i, e, 4+i, wantProgress, at)
		}
		if i > 0 && e.Position <= got[i-1].Position {
			t.Errorf("appended positions not increasing: %d then %d", got[i-1].Position, e.Position)
		}
	}
	stored, err := h.s.Events(h.ctx, task.ID, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := normEvents(stored), normEvents(got); !slices.EqualFunc(g, w, eventsEqual) {
		t.Errorf("stored events differ from returned ones:\nstored   %+v\nreturned %+v", g, w)
	}
	tk := h.task(task.ID)
	if tk.Progress != 40 || tk.LastSeq != 6 || tk.Status != coderclaw.StatusRunning {
		t.Errorf("task after append: progress %d last_seq %d status %s, want 40, 6, running", tk.Progress, tk.LastSeq, tk.Status)
	}

	if evs := h.append(task.ID, 1); len(evs) != 0 {
		t.Errorf("empty Append returned %v", evs)
	}
	if tk := h.task(task.ID); tk.LastSeq != 6 {
		t.Errorf("empty Append moved last_seq to %d", tk.LastSeq)
	}

	h.append(task.ID, 1, store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(70)})
	done := h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 1})
	if done.Progress != 70 {
		t.Errorf("completed task progress %d, want 70 (kept from the last progress event)", done.Progress)
	}
	evs := h.events(task.ID)
	checkSeqs(t, task.ID, evs)
	if last := evs[len(evs)-1]; last.Progress != 70 {
		t.Errorf("completion event progress %d, want 70", last.Progress)
	}
}

func eventsEqual(a, b coderclaw.Event) bool {
	return a.TaskID == b.TaskID && a.Seq == b.Seq && a.Position == b.Position && a.Time.Equal(b.Time) &&
		a.Type == b.Type && a.Status == b.Status && a.Progress == b.Progress && a.Actor == b.Actor &&
		a.Message == b.Message && jsonEqual(a.Data, b.Data)
}

// jsonEqual compares payloads by meaning, as a JSON column may reformat them.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func testAppendMalformed(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	snap := h.snapshot(task.ID)
	for _, tc := range []struct {
		what string
		ev   store.NewEvent
	}{
		{"no type", store.NewEvent{Message: "x"}},
		{"status event", store.NewEvent{Type: coderclaw.EventStatus, Status: coderclaw.StatusCompleted}},
		{"progress without value", store.NewEvent{Type: coderclaw.EventProgress}},
		{"progress above 100", store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(101)}},
		{"progress below 0", store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(-1)}},
		{"data not JSON", store.NewEvent{Type: coderclaw.EventLog, Data: json.RawMessage(`{nope`)}},
	} {
		_, err := h.s.Append(h.ctx, task.ID, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "fine"}, tc.ev})
		wantCode(t, "Append of an event with "+tc.what, err, coderclaw.CodeInvalid)
	}
	h.unchanged(snap, "malformed appends")
}

func testAppendConcurrent(t *testing.T, h *harness) {
	const tasks, writers, rounds = 6, 12, 15
	ts := make([]coderclaw.Task, tasks)
	for i := range ts {
		ts[i] = h.createRunning("worker-1")
	}
	var mu sync.Mutex
	appended := map[string]int{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				task := ts[(w+r)%tasks]
				n := 1 + (w+r)%3
				evs := make([]store.NewEvent, n)
				for i := range evs {
					evs[i] = store.NewEvent{Type: coderclaw.EventLog, Message: fmt.Sprintf("w%d r%d e%d", w, r, i)}
				}
				got, err := h.s.Append(h.ctx, task.ID, 1, evs)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				for i := 1; i < len(got); i++ {
					if got[i].Seq != got[i-1].Seq+1 {
						t.Errorf("one Append got seqs %d then %d", got[i-1].Seq, got[i].Seq)
					}
				}
				mu.Lock()
				appended[task.ID] += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, task := range ts {
		evs := h.events(task.ID)
		checkSeqs(t, task.ID, evs)
		if want := 3 + appended[task.ID]; len(evs) != want {
			t.Errorf("task %s has %d events, want %d", task.ID, len(evs), want)
		}
		if tk := h.task(task.ID); tk.LastSeq != int64(len(evs)) {
			t.Errorf("task %s last_seq %d, has %d events", task.ID, tk.LastSeq, len(evs))
		}
	}
}

func testRescueExpired(t *testing.T, h *harness) {
	h.create()
	claimAt := h.tick()
	if _, err := h.s.Claim(h.ctx, store.Claim{Owner: "worker-1", Limit: 1, Now: claimAt, LeaseUntil: claimAt.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	pending := h.create() // never rescued: nobody holds it
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: claimAt.Add(10 * time.Second), Actor: "recovery"})
	if err != nil || len(rescued) != 0 {
		t.Fatalf("Rescue within the lease: %v, %v", ids(rescued), err)
	}
	rescueAt := claimAt.Add(31 * time.Second)
	rescued, err = h.s.Rescue(h.ctx, store.Rescue{Now: rescueAt, Actor: "recovery"})
	if err != nil || len(rescued) != 1 {
		t.Fatalf("Rescue after the lease: %v, %v; want one task", ids(rescued), err)
	}
	got := rescued[0]
	if got.Status != coderclaw.StatusPending || got.Attempt != 2 || got.LastSeq != 4 || got.FinishedAt != nil || !got.UpdatedAt.Equal(rescueAt) {
		t.Fatalf("rescued task %+v, want pending, attempt 2, last_seq 4, updated at %v", got, rescueAt)
	}
	sameTask(t, "Task after rescue", got, h.task(got.ID))
	evs := h.events(got.ID)
	checkSeqs(t, got.ID, evs)
	last := evs[len(evs)-1]
	if last.Type != coderclaw.EventStatus || last.Status != coderclaw.StatusPending || last.Actor != "recovery" || !last.Time.Equal(rescueAt) || last.Message == "" {
		t.Errorf("rescue event %+v, want status/pending by recovery at %v with a message", last, rescueAt)
	}
	if again, err := h.s.Rescue(h.ctx, store.Rescue{Now: rescueAt.Add(time.Hour)}); err != nil || len(again) != 0 {
		t.Errorf("second Rescue: %v, %v; want nothing", ids(again), err)
	}
	if tk := h.task(pending.ID); tk.Status != coderclaw.StatusPending || tk.Attempt != 1 || tk.LastSeq != 1 {
		t.Errorf("Rescue touched a pending task: %+v", tk)
	}
	// The requeued task runs again, first in line as the older one.
	if next := h.claimOne("worker-2"); next.ID != got.ID || next.Attempt != 2 {
		t.Errorf("claim after rescue: %s attempt %d, want %s attempt 2", next.ID, next.Attempt, got.ID)
	}
}

func testRescueMaxAttempts(t *testing.T, h *harness) {
	task := h.create(func(t *coderclaw.Task) { t.MaxAttempts = 2 })
	for attempt := 1; attempt <= 2; attempt++ {
		c := h.claimOne("worker-1")
		if c.ID != task.ID || c.Attempt != attempt {
			t.Fatalf("claim %d: %s attempt %d", attempt, c.ID, c.Attempt)
		}
		h.append(task.ID, attempt, store.NewEvent{Type: coderclaw.EventProgress, Progress: intp(50)})
		at := h.advance(2 * time.Minute)
		rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: at, Actor: "recovery"})
		if err != nil || len(rescued) != 1 {
			t.Fatalf("Rescue %d: %v, %v", attempt, ids(rescued), err)
		}
		got := rescued[0]
		if attempt == 1 {
			if got.Status != coderclaw.StatusPending || got.Attempt != 2 || got.Progress != 0 {
				t.Fatalf("after the first lapse: %+v, want pending attempt 2 progress 0", got)
			}
			continue
		}
		if got.Status != coderclaw.StatusFailed || got.Attempt != 2 || got.Error == "" || got.FinishedAt == nil || !got.FinishedAt.Equal(at) {
			t.Fatalf("after the last lapse: %+v, want failed at attempt 2 with an error, finished at %v", got, at)
		}
		sameTask(t, "Task after the last rescue", got, h.task(task.ID))
		evs := h.events(task.ID)
		checkSeqs(t, task.ID, evs)
		if last := evs[len(evs)-1]; last.Status != coderclaw.StatusFailed || last.Actor != "recovery" {
			t.Errorf("last event %+v, want status/failed by recovery", last)
		}
	}
	if got := h.claim("worker-1", 1); len(got) != 0 {
		t.Errorf("claimed a failed task: %v", ids(got))
	}
}

func testRescueRestartedOwner(t *testing.T, h *harness) {
	mine := h.createRunning("node-1")
	theirs := h.createRunning("node-2")
	now := h.tick() // both leases run for another minute
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: now, RestartedOwner: "node-1", Actor: "node-1"})
	if err != nil || !slices.Equal(ids(rescued), []string{mine.ID}) {
		t.Fatalf("Rescue of a restarted owner: %v, %v; want only %s", ids(rescued), err, mine.ID)
	}
	if rescued[0].Status != coderclaw.StatusPending || rescued[0].Attempt != 2 {
		t.Errorf("rescued %+v, want pending attempt 2", rescued[0])
	}
	if tk := h.task(theirs.ID); tk.Status != coderclaw.StatusRunning || tk.Attempt != 1 {
		t.Errorf("another owner's task was touched: %+v", tk)
	}
}

func testRescueSkipsWaiting(t *testing.T, h *harness) {
	task := h.createRunning("node-1")
	h.transition(store.Transition{TaskID: task.ID, To: coderclaw.StatusWaiting, Attempt: 1})
	snap := h.snapshot(task.ID)
	rescued, err := h.s.Rescue(h.ctx, store.Rescue{Now: h.clock().Add(24 * time.Hour), RestartedOwner: "node-1"})
	if err != nil || len(rescued) != 0 {
		t.Fatalf("Rescue took a waiting task: %v, %v", ids(rescued), err)
	}
	h.unchanged(snap, "Rescue")
}

func testTasksFilter(t *testing.T, h *harness) {
	t1 := h.create(func(t *coderclaw.Task) { t.AgentID, t.SessionID, t.Project = "a", "s1", "p1" })
	t2 := h.create(func(t *coderclaw.Task) { t.AgentID, t.SessionID, t.Project, t.ParentID = "b", "s1", "p2", t1.ID })
	t3 := h.create(func(t *coderclaw.Task) { t.AgentID, t.SessionID, t.Project, t.ParentID = "a", "s2", "p1", t1.ID })
	t4 := h.create(func(t *coderclaw.Task) { t.AgentID = "b" })
	t5 := h.create(func(t *coderclaw.Task) { t.AgentID, t.SessionID, t.ParentID = "a", "s2", t3.ID })
	h.transition(store.Transition{TaskID: t3.ID, To: coderclaw.StatusCancelled})
	h.transition(store.Transition{TaskID: t4.ID, To: coderclaw.StatusFailed, Error: strp("bad")})
	got := h.claim("worker-1", 1)
	if len(got) != 1 || got[0].ID != t1.ID {
		// t1 is the oldest pending task of the top priority (all 0).
		t.Fatalf("claim took %v, want %s", ids(got), t1.ID)
	}
	// t1 running, t2 pending, t3 cancelled, t4 failed, t5 pending.

	list := func(f coderclaw.Filter) []string {
		t.Helper()
		page, err := h.s.Tasks(h.ctx, f)
		if err != nil {
			t.Fatalf("Tasks(%+v): %v", f, err)
		}
		if page.NextCursor != "" {
			t.Fatalf("Tasks(%+v): next cursor %q on a short page", f, page.NextCursor)
		}
		for _, tk := range page.Tasks {
			sameTask(t, "listed task", h.task(tk.ID), tk)
		}
		return ids(page.Tasks)
	}
	for _, tc := range []struct {
		name string
		f    coderclaw.Filter
		want []coderclaw.Task
	}{
		{"all", coderclaw.Filter{}, []coderclaw.Task{t5, t4, t3, t2, t1}},
		{"pending", coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusPending}}, []coderclaw.Task{t5, t2}},
		{"running or cancelled", coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusRunning, coderclaw.StatusCancelled}}, []coderclaw.Task{t3, t1}},
		{"completed", coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusCompleted}}, nil},
		{"agent", coderclaw.Filter{AgentID: "a"}, []coderclaw.Task{t5, t3, t1}},
		{"session", coderclaw.Filter{SessionID: "s1"}, []coderclaw.Task{t2, t1}},
		{"project", coderclaw.Filter{Project: "p1"}, []coderclaw.Task{t3, t1}},
		{"parent", coderclaw.Filter{ParentID: t1.ID}, []coderclaw.Task{t3, t2}},
		{"unknown parent", coderclaw.Filter{ParentID: "0190a5f0-0000-7000-8000-00000000dead"}, nil},
		{"created after (inclusive)", coderclaw.Filter{CreatedAfter: t2.CreatedAt}, []coderclaw.Task{t5, t4, t3, t2}},
		{"created before (exclusive)", coderclaw.Filter{CreatedBefore: t4.CreatedAt}, []coderclaw.Task{t3, t2, t1}},
		{"created range", coderclaw.Filter{CreatedAfter: t2.CreatedAt, CreatedBefore: t4.CreatedAt}, []coderclaw.Task{t3, t2}},
		{"agent and status", coderclaw.Filter{AgentID: "a", Status: []coderclaw.Status{coderclaw.StatusPending, coderclaw.StatusRunning}}, []coderclaw.Task{t5, t1}},
		{"session and parent", coderclaw.Filter{SessionID: "s2", ParentID: t3.ID}, []coderclaw.Task{t5}},
	} {
		if g, w := list(tc.f), ids(tc.want); !slices.Equal(g, w) {
			t.Errorf("Tasks(%s) = %v, want %v", tc.name, g, w)
		}
	}

	for _, f := range []coderclaw.Filter{
		{Limit: -1}, {Limit: coderclaw.MaxPageSize + 1}, {Status: []coderclaw.Status{"bogus"}},
	} {
		_, err := h.s.Tasks(h.ctx, f)
		wantCode(t, fmt.Sprintf("Tasks(%+v)", f), err, coderclaw.CodeInvalid)
	}
}

func testTasksPaging(t *testing.T, h *harness) {
	const n = 55
	var all []string // newest first
	for i := range n {
		tk := h.create()
		all = append([]string{tk.ID}, all...)
		if i%2 == 1 {
			h.transition(store.Transition{TaskID: tk.ID, To: coderclaw.StatusCancelled})
		}
	}
	walk := func(f coderclaw.Filter) []string {
		t.Helper()
		var got []string
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatalf("Tasks(%+v): more pages than tasks", f)
			}
			page, err := h.s.Tasks(h.ctx, f)
			if err != nil {
				t.Fatalf("Tasks(%+v): %v", f, err)
			}
			if len(page.Tasks) > f.PageSize() {
				t.Fatalf("Tasks(%+v): page of %d", f, len(page.Tasks))
			}
			if page.NextCursor != "" && len(page.Tasks) != f.PageSize() {
				t.Fatalf("Tasks(%+v): short page of %d with a next cursor", f, len(page.Tasks))
			}
			if page.NextCursor == "" && len(page.Tasks) == 0 && pages > 0 {
				t.Fatalf("Tasks(%+v): a cursor led to an empty last page", f)
			}
			got = append(got, ids(page.Tasks)...)
			if page.NextCursor == "" {
				return got
			}
			f.Cursor = page.NextCursor
		}
	}
	for _, limit := range []int{1, 5, 11, 55, 0} {
		if got := walk(coderclaw.Filter{Limit: limit}); !slices.Equal(got, all) {
			t.Errorf("paging by %d: %v\nwant %v", limit, got, all)
		}
	}
	var cancelled []string
	for i, id := range all {
		if (n-1-i)%2 == 1 {
			cancelled = append(cancelled, id)
		}
	}
	if got := walk(coderclaw.Filter{Limit: 4, Status: []coderclaw.Status{coderclaw.StatusCancelled}}); !slices.Equal(got, cancelled) {
		t.Errorf("paging cancelled by 4: %v\nwant %v", got, cancelled)
	}
	// The default page size applies to a zero limit.
	page, err := h.s.Tasks(h.ctx, coderclaw.Filter{})
	if err != nil || len(page.Tasks) != coderclaw.DefaultPageSize || page.NextCursor == "" {
		t.Fatalf("Tasks with the default limit: %d tasks, cursor %q, err %v; want %d and a cursor", len(page.Tasks), page.NextCursor, err, coderclaw.DefaultPageSize)
	}
	// A task created between pages does not disturb the walk.
	first, err := h.s.Tasks(h.ctx, coderclaw.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	h.create()
	rest := walk(coderclaw.Filter{Limit: 10, Cursor: first.NextCursor})
	if got := append(ids(first.Tasks), rest...); !slices.Equal(got, all) {
		t.Errorf("paging across a create: %v\nwant %v", got, all)
	}
}

func testEvents(t *testing.T, h *harness) {
	task := h.createRunning("worker-1")
	for i := range 6 {
		h.append(task.ID, 1, store.NewEvent{Type: coderclaw.EventLog, Message: fmt.Sprintf("line %d", i)})
	}
	all := h.events(task.ID) // 3 + 6
	checkSeqs(t, task.ID, all)
	if len(all) != 9 {
		t.Fatalf("%d events, want 9", len(all))
	}
	for _, tc := range []struct {
		after        int64
		limit        int
		first, count int64
	}{
		{0, 0, 1, 9}, {0, -1, 1, 9}, {3, 0, 4, 6}, {3, 2, 4, 2}, {8, 5, 9, 1}, {9, 0, 0, 0}, {100, 0, 0, 0}, {0, 1, 1, 1},
	} {
		got, err := h.s.Events(h.ctx, task.ID, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Events(after %d, limit %d): %v", tc.after, tc.limit, err)
		}
		if int64(len(got)) != tc.count {
			t.Fatalf("Events(after %d, limit %d): %d events, want %d", tc.after, tc.limit, len(got), tc.count)
		}
		for i, e := range got {
			if want := all[tc.first-1+int64(i)]; !eventsEqual(e, want) {
				t.Fatalf("Events(after %d, limit %d)[%d] = %+v, want %+v", tc.after, tc.limit, i, e, want)
			}
		}
	}
}

func testEventsSince(t *testing.T, h *harness) {
	a := h.createRunning("worker-1")
	b := h.create()
	h.append(a.ID, 1, store.NewEvent{Type: coderclaw.EventLog, Message: "a1"}, store.NewEvent{Type: coderclaw.EventLog, Message: "a2"})
	c := h.createRunning("worker-1")
	h.transition(store.Transition{TaskID: b.ID, To: coderclaw.StatusCancelled})
	h.append(c.ID, 1, store.NewEvent{Type: coderclaw.EventLog, Message: "c1"})
	h.append(a.ID, 1, store.NewEvent{Type: coderclaw.EventLog, Message: "a3"})

	all, err := h.s.EventsSince(h.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []coderclaw.Event
	for _, id := range []string{a.ID, b.ID, c.ID} {
		want = append(want, h.events(id)...)
	}
	if len(all) != len(want) {
		t.Fatalf("EventsSince(0) has %d events, the tasks have %d", len(all), len(want))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position <= all[i-1].Position {
			t.Fatalf("EventsSince positions not increasing: %d then %d", all[i-1].Position, all[i].Position)
		}
	}
	byPos := map[int64]coderclaw.Event{}
	for _, e := range all {
		byPos[e.Position] = e
	}
	for _, e := range want {
		if got, ok := byPos[e.Position]; !ok || !eventsEqual(got, e) {
			t.Errorf("event %s #%d at position %d: EventsSince has %+v", e.TaskID, e.Seq, e.Position, got)
		}
	}
	// Global order follows the order of writes: a's second append comes
	// after c's claim.
	posOf := func(id string, seq int64) int64 {
		for _, e := range all {
			if e.TaskID == id && e.Seq == seq {
				return e.Position
			}
		}
		t.Fatalf("no event %s #%d", id, seq)
		return 0
	}
	if posOf(a.ID, 6) <= posOf(c.ID, 4) || posOf(c.ID, 4) <= posOf(b.ID, 2) || posOf(b.ID, 1) <= posOf(a.ID, 3) {
		t.Errorf("positions do not follow the order of writes: %+v", all)
	}

	// Paging by position sees the same sequence.
	var paged []coderclaw.Event
	for after := int64(0); ; {
		page, err := h.s.EventsSince(h.ctx, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 4 {
			t.Fatalf("EventsSince(limit 4) returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Position
	}
	if !slices.EqualFunc(paged, all, eventsEqual) {
		t.Errorf("paged EventsSince %+v\nwant %+v", paged, all)
	}

	last := all[len(all)-1].Position
	if rest, err := h.s.EventsSince(h.ctx, last, 0); err != nil || len(rest) != 0 {
		t.Fatalf("EventsSince(last): %+v, %v", rest, err)
	}
	h.append(c.ID, 1, store.NewEvent{Type: coderclaw.EventLog, Message: "c2"})
	d := h.create()
	rest, err := h.s.EventsSince(h.ctx, last, 0)
	if err != nil || len(rest) != 2 || rest[0].TaskID != c.ID || rest[0].Message != "c2" || rest[1].TaskID != d.ID || rest[1].Seq != 1 {
		t.Fatalf("EventsSince(last) after two writes: %+v, %v", rest, err)
	}
}

func testNotFound(t *testing.T, h *harness) {
	h.create()
	const missing = "0190a5f0-0000-7000-8000-00000000beef"
	_, err := h.s.Task(h.ctx, missing)
	wantIs(t, "Task", err, store.ErrNotFound)
	_, err = h.s.Events(h.ctx, missing, 0, 0)
	wantIs(t, "Events", err, store.ErrNotFound)
	_, err = h.s.Events(h.ctx, missing, 5, 10)
	wantIs(t, "Events after 5", err, store.ErrNotFound)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: missing, To: coderclaw.StatusCancelled, Now: h.tick()})
	wantIs(t, "Transition", err, store.ErrNotFound)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: missing, To: coderclaw.StatusCompleted, Attempt: 1, Now: h.tick()})
	wantIs(t, "fenced Transition", err, store.ErrNotFound)
	_, err = h.s.Append(h.ctx, missing, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append", err, store.ErrNotFound)
}

func testCounts(t *testing.T, h *harness) {
	counts, err := h.s.Counts(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range coderclaw.Statuses() {
		if n, ok := counts[st]; !ok || n != 0 {
			t.Errorf("empty store: counts[%s] = %d, %v; want 0, present", st, n, ok)
		}
	}
	done := h.createRunning("w")
	h.transition(store.Transition{TaskID: done.ID, To: coderclaw.StatusCompleted, Attempt: 1})
	waiting := h.createRunning("w")
	h.transition(store.Transition{TaskID: waiting.ID, To: coderclaw.StatusWaiting, Attempt: 1})
	h.createRunning("w")
	failed := h.create()
	h.transition(store.Transition{TaskID: failed.ID, To: coderclaw.StatusFailed})
	cancelled := h.create()
	h.transition(store.Transition{TaskID: cancelled.ID, To: coderclaw.StatusCancelled})
	planning := h.create(withPriority(-5))
	h.transition(store.Transition{TaskID: planning.ID, To: coderclaw.StatusPlanning})
	h.create()
	h.create()

	counts, err = h.s.Counts(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[coderclaw.Status]int{
		coderclaw.StatusPending: 2, coderclaw.StatusPlanning: 1, coderclaw.StatusRunning: 1, coderclaw.StatusWaiting: 1,
		coderclaw.StatusCompleted: 1, coderclaw.StatusFailed: 1, coderclaw.StatusCancelled: 1,
	}
	for st, n := range want {
		if counts[st] != n {
			t.Errorf("counts[%s] = %d, want %d", st, counts[st], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("counts %v has extra keys", counts)
	}
}

// testConcurrentLifecycles runs whole lifecycles from many goroutines at
// once, so a backend that batches writes mixes them in its batches.
func testConcurrentLifecycles(t *testing.T, h *harness) {
	const workers, each = 8, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for range each {
				if _, err := h.s.CreateTask(h.ctx, h.newTask(), "tester"); err != nil {
					t.Errorf("CreateTask: %v", err)
					return
				}
				now := h.tick()
				got, err := h.s.Claim(h.ctx, store.Claim{Owner: owner, Limit: 1, Now: now, LeaseUntil: now.Add(time.Hour)})
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				for _, c := range got {
					if _, err := h.s.Append(h.ctx, c.ID, c.Attempt, []store.NewEvent{{Type: coderclaw.EventProgress, Progress: intp(50)}}); err != nil {
						t.Errorf("Append: %v", err)
					}
					if _, err := h.s.Transition(h.ctx, store.Transition{TaskID: c.ID, To: coderclaw.StatusCompleted, Attempt: c.Attempt, Now: h.tick()}); err != nil {
						t.Errorf("Transition: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	// Whatever a claim missed is still pending; finish it.
	for {
		got := h.claim("sweeper", 10)
		if len(got) == 0 {
			break
		}
		for _, c := range got {
			h.transition(store.Transition{TaskID: c.ID, To: coderclaw.StatusCompleted, Attempt: c.Attempt})
		}
	}
	counts, err := h.s.Counts(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[coderclaw.StatusCompleted] != workers*each {
		t.Fatalf("counts %v, want %d completed", counts, workers*each)
	}
	page, err := h.s.Tasks(h.ctx, coderclaw.Filter{Limit: coderclaw.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range page.Tasks {
		evs := h.events(tk.ID)
		checkSeqs(t, tk.ID, evs)
		if tk.LastSeq != int64(len(evs)) || evs[len(evs)-1].Status != coderclaw.StatusCompleted {
			t.Errorf("task %s: last_seq %d, history %v", tk.ID, tk.LastSeq, lifecycleOf(evs))
		}
	}
}

// testMixedBatch sends accepted and refused writes at the same time: each
// refusal must leave no trace and must not take the accepted writes that
// happen to share its transaction down with it.
func testMixedBatch(t *testing.T, h *harness) {
	const n = 16
	ts := make([]coderclaw.Task, n)
	for i := range ts {
		ts[i] = h.createRunning("worker-1")
	}
	snaps := make([]snapshot, n)
	for i := range ts {
		snaps[i] = h.snapshot(ts[i].ID)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ts {
		wg.Go(func() {
			tr := store.Transition{TaskID: ts[i].ID, To: coderclaw.StatusCompleted, Attempt: 1, Now: h.tick(),
				Events: []store.NewEvent{{Type: coderclaw.EventLog, Message: "result"}}}
			switch i % 4 {
			case 1:
				tr.Attempt = 7 // stale
			case 3:
				tr.To = coderclaw.StatusPending // invalid by request
			}
			_, errs[i] = h.s.Transition(h.ctx, tr)
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch i % 4 {
		case 1:
			wantIs(t, "stale transition", err, store.ErrLeaseLost)
			h.unchanged(snaps[i], "stale transition")
		case 3:
			wantInvalidTransition(t, "invalid transition", err, coderclaw.StatusRunning, coderclaw.StatusPending)
			h.unchanged(snaps[i], "invalid transition")
		default:
			if err != nil {
				t.Fatalf("valid transition: %v", err)
			}
			evs := h.events(ts[i].ID)
			checkSeqs(t, ts[i].ID, evs)
			if g, w := lifecycleOf(evs), []string{"status/pending", "status/planning", "status/running", "log", "status/completed"}; !slices.Equal(g, w) {
				t.Errorf("task %d history %v, want %v", i, g, w)
			}
		}
	}
}

func testContextDone(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	// Repeated, so that a write that merely races its context is caught.
	for range 20 {
		in := h.newTask()
		_, err := h.s.CreateTask(ctx, in, "tester")
		wantIs(t, "CreateTask with a cancelled context", err, context.Canceled)
		_, err = h.s.Task(h.ctx, in.ID)
		wantIs(t, "Task after a cancelled CreateTask", err, store.ErrNotFound)
	}
	h.create()
	for range 20 {
		now := h.tick()
		_, err := h.s.Claim(ctx, store.Claim{Owner: "w", Limit: 1, Now: now, LeaseUntil: now.Add(time.Minute)})
		wantIs(t, "Claim with a cancelled context", err, context.Canceled)
	}
	if got := h.claim("w", 10); len(got) != 1 {
		t.Errorf("a cancelled Claim took the task: %d left to claim", len(got))
	}
}

func testClose(t *testing.T, h *harness) {
	task := h.createRunning("w")
	if err := h.s.Ping(h.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := h.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := h.s.CreateTask(h.ctx, h.newTask(), "tester")
	wantIs(t, "CreateTask after Close", err, store.ErrClosed)
	_, err = h.s.Transition(h.ctx, store.Transition{TaskID: task.ID, To: coderclaw.StatusCompleted, Attempt: 1, Now: h.tick()})
	wantIs(t, "Transition after Close", err, store.ErrClosed)
	_, err = h.s.Append(h.ctx, task.ID, 1, []store.NewEvent{{Type: coderclaw.EventLog, Message: "x"}})
	wantIs(t, "Append after Close", err, store.ErrClosed)
	if err := h.s.Ping(h.ctx); err == nil {
		t.Errorf("Ping after Close: no error")
	}
	if err := h.s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}
