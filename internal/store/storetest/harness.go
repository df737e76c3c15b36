package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// epoch is where every test's clock starts. Times advance in whole
// milliseconds so that every backend stores them exactly (PostgreSQL keeps
// microseconds).
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// harness is one subtest's store with its clock and id generator.
type harness struct {
	t   *testing.T
	s   store.Store
	ctx context.Context

	mu  sync.Mutex
	now time.Time
	ids idGen
}

func newHarness(t *testing.T, s store.Store) *harness {
	return &harness{t: t, s: s, ctx: t.Context(), now: epoch}
}

// clock returns the current test time without moving it.
func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// advance moves the clock forward and returns the new time.
func (h *harness) advance(d time.Duration) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
	return h.now
}

// tick moves the clock one millisecond forward, so successive calls give
// distinct, increasing times.
func (h *harness) tick() time.Time { return h.advance(time.Millisecond) }

// newTask returns a task ready for CreateTask, stamped with a new time and a
// UUIDv7 id; mods adjust it.
func (h *harness) newTask(mods ...func(*coderclaw.Task)) coderclaw.Task {
	h.mu.Lock()
	h.now = h.now.Add(time.Millisecond)
	now := h.now
	id := h.ids.next(now)
	h.mu.Unlock()
	t := coderclaw.Task{
		ID: id, Description: "a task", Input: "do the thing", AgentID: "agent-a",
		Attempt: 1, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now,
	}
	for _, m := range mods {
		m(&t)
	}
	return t
}

// create stores a new task and returns it as stored.
func (h *harness) create(mods ...func(*coderclaw.Task)) coderclaw.Task {
	h.t.Helper()
	in := h.newTask(mods...)
	got, err := h.s.CreateTask(h.ctx, in, "tester")
	if err != nil {
		h.t.Fatalf("CreateTask(%s): %v", in.ID, err)
	}
	return got
}

// claim claims up to limit tasks for owner with a lease of a minute.
func (h *harness) claim(owner string, limit int) []coderclaw.Task {
	h.t.Helper()
	now := h.tick()
	got, err := h.s.Claim(h.ctx, store.Claim{Owner: owner, Limit: limit, Now: now, LeaseUntil: now.Add(time.Minute), Actor: "scheduler"})
	if err != nil {
		h.t.Fatalf("Claim(%s, %d): %v", owner, limit, err)
	}
	return got
}

// claimOne claims exactly one task (the next one) for owner.
func (h *harness) claimOne(owner string) coderclaw.Task {
	h.t.Helper()
	got := h.claim(owner, 1)
	if len(got) != 1 {
		h.t.Fatalf("Claim(%s, 1) claimed %d tasks, want 1", owner, len(got))
	}
	return got[0]
}

// createRunning creates a task and claims it for owner. It must be the only
// pending task of its priority or above.
func (h *harness) createRunning(owner string, mods ...func(*coderclaw.Task)) coderclaw.Task {
	h.t.Helper()
	t := h.create(append([]func(*coderclaw.Task){withPriority(coderclaw.MaxPriority)}, mods...)...)
	got := h.claimOne(owner)
	if got.ID != t.ID {
		h.t.Fatalf("claimed %s, want the task just created %s", got.ID, t.ID)
	}
	return got
}

func (h *harness) transition(tr store.Transition) coderclaw.Task {
	h.t.Helper()
	if tr.Now.IsZero() {
		tr.Now = h.tick()
	}
	got, err := h.s.Transition(h.ctx, tr)
	if err != nil {
		h.t.Fatalf("Transition(%s -> %s): %v", tr.TaskID, tr.To, err)
	}
	return got
}

func (h *harness) append(id string, attempt int, evs ...store.NewEvent) []coderclaw.Event {
	h.t.Helper()
	got, err := h.s.Append(h.ctx, id, attempt, evs)
	if err != nil {
		h.t.Fatalf("Append(%s, attempt %d): %v", id, attempt, err)
	}
	return got
}

func (h *harness) task(id string) coderclaw.Task {
	h.t.Helper()
	got, err := h.s.Task(h.ctx, id)
	if err != nil {
		h.t.Fatalf("Task(%s): %v", id, err)
	}
	return got
}

func (h *harness) events(id string) []coderclaw.Event {
	h.t.Helper()
	got, err := h.s.Events(h.ctx, id, 0, 0)
	if err != nil {
		h.t.Fatalf("Events(%s): %v", id, err)
	}
	return got
}

// snapshot is a task's stored state and history, to check that a refused
// write changed nothing.
type snapshot struct {
	task   coderclaw.Task
	events []coderclaw.Event
}

func (h *harness) snapshot(id string) snapshot {
	h.t.Helper()
	return snapshot{task: h.task(id), events: h.events(id)}
}

// unchanged fails the test if the task's state or history differs from snap.
func (h *harness) unchanged(snap snapshot, after string) {
	h.t.Helper()
	now := h.snapshot(snap.task.ID)
	if !reflect.DeepEqual(norm(snap.task), norm(now.task)) {
		h.t.Errorf("after %s: task changed:\nbefore %+v\nafter  %+v", after, norm(snap.task), norm(now.task))
	}
	if !reflect.DeepEqual(normEvents(snap.events), normEvents(now.events)) {
		h.t.Errorf("after %s: events changed:\nbefore %+v\nafter  %+v", after, normEvents(snap.events), normEvents(now.events))
	}
}

// lifecycleOf returns the task's history as "type/status" strings.
func lifecycleOf(evs []coderclaw.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type)
		if e.Type == coderclaw.EventStatus {
			out[i] += "/" + string(e.Status)
		}
	}
	return out
}

// checkSeqs fails unless evs are numbered 1..len(evs) in order.
func checkSeqs(t *testing.T, id string, evs []coderclaw.Event) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.TaskID != id {
			t.Fatalf("task %s: event %d is %s #%d, want %s #%d (full: %+v)", id, i, e.TaskID, e.Seq, id, i+1, evs)
		}
		if i > 0 && e.Position <= evs[i-1].Position {
			t.Fatalf("task %s: event seq %d has position %d, not after %d", id, e.Seq, e.Position, evs[i-1].Position)
		}
	}
}

func sameTask(t *testing.T, what string, want, got coderclaw.Task) {
	t.Helper()
	if w, g := norm(want), norm(got); !reflect.DeepEqual(w, g) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// norm puts a task in the form DeepEqual can compare: times in UTC without
// monotonic readings, empty maps as nil.
func norm(t coderclaw.Task) coderclaw.Task {
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.StartedAt, t.FinishedAt = normTime(t.StartedAt), normTime(t.FinishedAt)
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	if len(t.Metadata) == 0 {
		t.Metadata = nil
	}
	if len(t.Children) == 0 {
		t.Children = nil
	}
	return t
}

func normTime(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

func normEvents(evs []coderclaw.Event) []coderclaw.Event {
	out := make([]coderclaw.Event, len(evs))
	for i, e := range evs {
		e.Time = e.Time.UTC()
		if len(e.Data) == 0 {
			e.Data = nil
		}
		out[i] = e
	}
	return out
}

func ids(ts []coderclaw.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func wantInvalidTransition(t *testing.T, what string, err error, from, to coderclaw.Status) {
	t.Helper()
	var te *coderclaw.InvalidTransitionError
	if !errors.As(err, &te) {
		t.Fatalf("%s: error %v, want *coderclaw.InvalidTransitionError", what, err)
	}
	if te.From != from || te.To != to {
		t.Fatalf("%s: InvalidTransitionError{From: %s, To: %s}, want {From: %s, To: %s}", what, te.From, te.To, from, to)
	}
}

func wantCode(t *testing.T, what string, err error, code coderclaw.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want code %s", what, code)
	}
	if got := coderclaw.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %s, want %s", what, err, got, code)
	}
}

func withPriority(p int) func(*coderclaw.Task) { return func(t *coderclaw.Task) { t.Priority = p } }

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// idGen makes UUIDv7 ids from the test clock, strictly increasing even
// within a millisecond (a 12-bit counter in rand_a, RFC 9562 method 1), so
// that id order is creation order as it is for the engine's ids.
type idGen struct {
	lastMS int64
	seq    uint16
}

func (g *idGen) next(now time.Time) string {
	ms := now.UnixMilli()
	if ms <= g.lastMS {
		ms = g.lastMS
		g.seq++
		if g.seq > 0x0fff {
			ms++
			g.seq = 0
		}
	} else {
		g.seq = 0
	}
	g.lastMS = ms
	var b [16]byte
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = 0x70 | byte(g.seq>>8)
	b[7] = byte(g.seq)
	if _, err := rand.Read(b[8:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // documented never to fail
	}
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
