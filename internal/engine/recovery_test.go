package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
	"github.com/coderclaw/coderclaw/internal/store"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// follow streams a task to its end and returns its status events.
func follow(t *testing.T, rt coderclaw.Runtime, id string) (coderclaw.Task, []coderclaw.Status) {
	t.Helper()
	var sts []coderclaw.Status
	want := int64(1)
	for ev, err := range rt.Stream(ctx(t), id, 0) {
		if err != nil {
			t.Fatalf("stream %s: %v", id, err)
		}
		if ev.Seq != want {
			t.Fatalf("seq %d, want %d", ev.Seq, want)
		}
		want++
		if ev.Type == coderclaw.EventStatus {
			sts = append(sts, ev.Status)
		}
	}
	task, err := rt.Task(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return task, sts
}

// crashedTask stores a task as claimed by owner, as a node that died
// mid-execution leaves it.
func crashedTask(t *testing.T, st store.Store, owner, input string, maxAttempts int, leaseUntil time.Time) string {
	t.Helper()
	now := time.Now()
	id := uuid.Must(uuid.NewV7()).String()
	_, err := st.CreateTask(ctx(t), coderclaw.Task{
		ID: id, Input: input, AgentID: "shell", Status: coderclaw.StatusPending,
		Attempt: 1, MaxAttempts: maxAttempts, CreatedAt: now, UpdatedAt: now,
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := st.Claim(ctx(t), store.Claim{Owner: owner, Limit: 1, Now: now, LeaseUntil: leaseUntil, Actor: "test"})
	if err != nil || len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claim: %v %+v", err, claimed)
	}
	return id
}

var (
	requeuedStatuses = []coderclaw.Status{
		coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.StatusRunning,
		coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.StatusRunning, coderclaw.StatusCompleted,
	}
	exhaustedStatuses = []coderclaw.Status{
		coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.StatusRunning, coderclaw.StatusFailed,
	}
)

// TestRestartRequeues: a node that restarts requeues the tasks it held
// (attempt+1) and runs them; one whose attempts are used up fails.
func TestRestartRequeues(t *testing.T) {
	dir := t.TempDir()
	first := nodetest.Start(t, nodetest.Options{Dir: dir, NodeID: "node-a", MaxConcurrentTasks: 1, StopGrace: 50 * time.Millisecond})
	// Hold the engine's only slot so that it cannot claim what we stage.
	blocker, err := first.Submit(ctx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: `echo ready; if [ "$CODERCLAW_ATTEMPT" = 1 ]; then sleep 60; fi`})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range first.Stream(ctx(t), blocker.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == coderclaw.EventLog {
			break
		}
	}
	lease := time.Now().Add(time.Hour) // not expired: only the restart frees them
	retry := crashedTask(t, first.Store, "node-a", "echo again", 3, lease)
	last := crashedTask(t, first.Store, "node-a", "echo never", 1, lease)
	other := crashedTask(t, first.Store, "node-b", "echo other", 3, lease)
	first.Stop(t)

	second := nodetest.Start(t, nodetest.Options{Dir: dir, NodeID: "node-a"})
	task, sts := follow(t, second, retry)
	if task.Status != coderclaw.StatusCompleted || task.Attempt != 2 || task.Output != "again" || !slices.Equal(sts, requeuedStatuses) {
		t.Errorf("requeued task: %s attempt %d output %q statuses %v", task.Status, task.Attempt, task.Output, sts)
	}
	task, sts = follow(t, second, last)
	if task.Status != coderclaw.StatusFailed || task.Error == "" || !slices.Equal(sts, exhaustedStatuses) {
		t.Errorf("exhausted task: %s error %q statuses %v", task.Status, task.Error, sts)
	}
	task, sts = follow(t, second, blocker.ID)
	if task.Status != coderclaw.StatusCompleted || task.Attempt != 2 {
		t.Errorf("task running at shutdown: %s attempt %d statuses %v", task.Status, task.Attempt, sts)
	}
	got, err := second.Task(ctx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != coderclaw.StatusRunning || got.Attempt != 1 {
		t.Errorf("another node's live task was touched: %s attempt %d", got.Status, got.Attempt)
	}
}

// TestLapsedLeaseRecovered: a task whose node vanished is requeued by
// another node once its lease lapses.
func TestLapsedLeaseRecovered(t *testing.T) {
	dir := t.TempDir()
	st := nodetest.OpenStore(t, dir)
	id := crashedTask(t, st, "node-gone", "echo rescued", 3, time.Now().Add(100*time.Millisecond))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, nodetest.Options{Dir: dir, NodeID: "node-a", LeaseDuration: 200 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond})
	task, sts := follow(t, n, id)
	if task.Status != coderclaw.StatusCompleted || task.Attempt != 2 || !slices.Equal(sts, requeuedStatuses) {
		t.Errorf("rescued task: %s attempt %d statuses %v", task.Status, task.Attempt, sts)
	}
}

// TestLostLeaseStopsExecution: when another node takes a task over (its
// lease was judged lapsed), the first execution is stopped and its late
// result refused; the task completes once, by the new attempt.
func TestLostLeaseStopsExecution(t *testing.T) {
	n := nodetest.Start(t, nodetest.Options{NodeID: "node-a", LeaseDuration: 300 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond})
	sub, err := n.Submit(ctx(t), coderclaw.SubmitRequest{AgentID: "shell",
		Input: `echo "attempt $CODERCLAW_ATTEMPT"; if [ "$CODERCLAW_ATTEMPT" = 1 ]; then sleep 60; fi`})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range n.Stream(ctx(t), sub.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Message == "attempt 1" {
			break
		}
	}
	// Another node's rescuer sees the lease as lapsed (its clock is ahead).
	if _, err := n.Store.Rescue(ctx(t), store.Rescue{Now: time.Now().Add(time.Hour), Actor: "engine:node-b"}); err != nil {
		t.Fatal(err)
	}
	task, sts := follow(t, n, sub.ID)
	if task.Status != coderclaw.StatusCompleted || task.Attempt != 2 || task.Output != "attempt 2" || !slices.Equal(sts, requeuedStatuses) {
		t.Errorf("task: %s attempt %d output %q error %q statuses %v", task.Status, task.Attempt, task.Output, task.Error, sts)
	}
}

// TestWaitingSurvivesRestart: a task waiting for an answer stays waiting
// across a restart, and Respond resumes it with the answers replayed.
func TestWaitingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := nodetest.Start(t, nodetest.Options{Dir: dir, NodeID: "node-a"})
	sub, err := first.Submit(ctx(t), coderclaw.SubmitRequest{AgentID: "shell",
		Input: `echo '::ask::first?'; read a; echo '::ask::second?'; read b; echo "$a+$b"`})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(rt coderclaw.Runtime, question string) {
		t.Helper()
		for ev, err := range rt.Stream(ctx(t), sub.ID, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == coderclaw.EventQuestion && ev.Message == question {
				break
			}
		}
		for {
			task, err := rt.Task(ctx(t), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if task.Status == coderclaw.StatusWaiting {
				return
			}
			if task.Status.Terminal() {
				t.Fatalf("task ended %s while a question was open", task.Status)
			}
			time.Sleep(5 * time.Millisecond) // the waiting event follows the question in the same commit
		}
	}
	waitFor(first, "first?")
	if _, err := first.Respond(ctx(t), sub.ID, "one"); err != nil {
		t.Fatal(err)
	}
	waitFor(first, "second?")
	first.Stop(t)

	second := nodetest.Start(t, nodetest.Options{Dir: dir, NodeID: "node-a"})
	task, err := second.Task(ctx(t), sub.ID)
	if err != nil || task.Status != coderclaw.StatusWaiting {
		t.Fatalf("after restart: %s, %v", task.Status, err)
	}
	if _, err := second.Respond(ctx(t), sub.ID, "two"); err != nil {
		t.Fatal(err)
	}
	task, _ = follow(t, second, sub.ID)
	if task.Status != coderclaw.StatusCompleted || task.Output != "one+two" {
		t.Errorf("resumed task: %s output %q error %q", task.Status, task.Output, task.Error)
	}
}

// TestScratchDirRemoved: a task without a repo runs in a scratch directory
// of its own, removed when its execution ends, however it ends.
func TestScratchDirRemoved(t *testing.T) {
	n := nodetest.New(t)
	for _, input := range []string{"pwd; touch made-here", "exit 3"} {
		sub, err := n.Submit(ctx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: input})
		if err != nil {
			t.Fatal(err)
		}
		task, _ := follow(t, n, sub.ID)
		if input[0] == 'p' && !strings.HasSuffix(task.Output, filepath.Join("work", sub.ID, "1")) {
			t.Errorf("ran in %q", task.Output)
		}
		if _, err := os.Stat(filepath.Join(n.Dir, "work", sub.ID)); !os.IsNotExist(err) {
			t.Errorf("%q: scratch directory left behind: %v", input, err)
		}
	}
}
