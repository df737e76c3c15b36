package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

const insertTaskSQL = `INSERT INTO tasks (id, description, input, agent_id, status, progress, output, error,
	parent_id, session_id, project, repo, labels, metadata, priority, attempt, max_attempts, last_seq,
	created_at, updated_at, started_at, finished_at, submitter)
	VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULL, NULL, ?)`

const updateTaskSQL = `UPDATE tasks SET status = ?, progress = ?, output = ?, error = ?, attempt = ?,
	last_seq = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ?, started_at = ?, finished_at = ?
	WHERE id = ?`

// selectStateSQL reads what the writer needs of a task to change it.
const selectStateSQL = `SELECT ` + stateColumns + `, priority, max_attempts, lease_owner, lease_expires_at
	FROM tasks WHERE id = ?`

// claimSQL moves the next pending tasks straight to running in one
// statement; %d is the limit. The subquery must walk the tasks_pending
// index, which yields tasks in claim order, and stop at the limit: without
// statistics the planner prefers tasks_status and sorts every pending task,
// hence INDEXED BY. The limit is a literal because a bound LIMIT in the
// subquery makes SQLite re-prepare the statement on every run (4x slower).
const claimSQL = `UPDATE tasks SET status = 'running', lease_owner = ?1, lease_expires_at = ?2,
	started_at = ?3, updated_at = ?3, last_seq = last_seq + 2
	WHERE id IN (SELECT id FROM tasks INDEXED BY tasks_pending WHERE status = 'pending'
		ORDER BY priority DESC, id LIMIT %d)
	RETURNING id, priority, ` + stateColumns

// claimQuery returns the claim statement for n tasks. For one task, a
// rowid equality beats the IN list by a quarter: no temporary table, no
// primary key lookup.
func claimQuery(n int) string {
	q := fmt.Sprintf(claimSQL, n)
	if n == 1 {
		q = strings.Replace(q, "WHERE id IN (SELECT id ", "WHERE rowid = (SELECT rowid ", 1)
	}
	return q
}

const heartbeatSQL = `UPDATE tasks SET lease_expires_at = ?
	WHERE id = ? AND attempt = ? AND lease_owner = ? AND status IN ('planning', 'running')`

// rescueSelectSQL finds active tasks whose lease lapsed (or that have none)
// or whose owner restarted; it walks the tasks_active index.
const rescueSelectSQL = `SELECT id, ` + stateColumns + `, priority, max_attempts, lease_owner, lease_expires_at FROM tasks
	WHERE status IN ('planning', 'running')
	AND (lease_expires_at IS NULL OR lease_expires_at < ?1 OR lease_owner = ?2)`

// invalid returns a *coderclaw.Error with code invalid.
func invalid(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeInvalid, format, args...)
}

// CreateTask inserts a pending task and its first event. The task's ID,
// CreatedAt and MaxAttempts must be set; a zero Attempt means 1 and a zero
// UpdatedAt means CreatedAt. Its Status, LastSeq, StartedAt and FinishedAt
// are the store's to set. A duplicate id is a conflict.
func (s *Store) CreateTask(ctx context.Context, t coderclaw.Task, actor string) (coderclaw.Task, error) {
	switch {
	case t.ID == "":
		return coderclaw.Task{}, fmt.Errorf("create task: %w", invalid("id: must not be empty"))
	case t.CreatedAt.IsZero():
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, invalid("created_at: must be set"))
	case t.Attempt < 0:
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, invalid("attempt: %d must not be negative", t.Attempt))
	case t.MaxAttempts < 1:
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, invalid("max_attempts: %d must be at least 1", t.MaxAttempts))
	case t.Progress < 0 || t.Progress > 100:
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, invalid("progress: %d is outside [0, 100]", t.Progress))
	}
	labels, err := encodeMap(t.Labels)
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("create task %s: labels: %w", t.ID, err)
	}
	metadata, err := encodeMap(t.Metadata)
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("create task %s: metadata: %w", t.ID, err)
	}
	submitter, err := encodeSubmitter(t.Submitter)
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("create task %s: submitter: %w", t.ID, err)
	}
	if t.Attempt == 0 {
		t.Attempt = 1
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.CreatedAt, t.UpdatedAt = fromNanos(nanos(t.CreatedAt)), fromNanos(nanos(t.UpdatedAt))
	t.Status, t.LastSeq, t.StartedAt, t.FinishedAt, t.Children = coderclaw.StatusPending, 1, nil, nil, nil
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	if len(t.Metadata) == 0 {
		t.Metadata = nil
	}
	args := []any{t.ID, t.Description, t.Input, t.AgentID, t.Progress, t.Output, t.Error,
		nullString(t.ParentID), nullString(t.SessionID), nullString(t.Project), t.Repo, labels, metadata,
		t.Priority, t.Attempt, t.MaxAttempts, nanos(t.CreatedAt), nanos(t.UpdatedAt), submitter}
	ev := []coderclaw.Event{{TaskID: t.ID, Seq: 1, Time: t.CreatedAt, Type: coderclaw.EventStatus,
		Status: coderclaw.StatusPending, Progress: t.Progress, Actor: actor, Message: "created"}}
	if !s.enter() {
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, store.ErrClosed)
	}
	defer s.ops.Done()
	err = s.write(ctx, withoutSavepoint, func(w *writer) error {
		if _, err := w.write(w.insertTask, args...); err != nil {
			var se *sqlite.Error
			if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
				return coderclaw.Errorf(coderclaw.CodeConflict, "task %s already exists", t.ID)
			}
			return err
		}
		w.queueEvents(ev, false)
		return nil
	})
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("create task %s: %w", t.ID, err)
	}
	return t, nil
}

// stateRow is what the writer reads and returns of a task: its state and
// the few fixed columns the writer needs.
type stateRow struct {
	id string
	taskState
	priority, maxAttempts int
	leaseOwner            sql.NullString
	leaseExpires          sql.NullInt64
}

// load reads a row of selectStateSQL: the stateColumns, then priority,
// max_attempts, lease_owner and lease_expires_at.
func (r *stateRow) load(v []driver.Value) {
	r.taskState.load(v)
	r.priority, r.maxAttempts = int(vInt(v[9])), int(vInt(v[10]))
	r.leaseOwner, r.leaseExpires = vNullString(v[11]), vNullInt(v[12])
}

// load reads the stateColumns.
func (s *taskState) load(v []driver.Value) {
	s.status, s.progress, s.output, s.error = vString(v[0]), int(vInt(v[1])), vString(v[2]), vString(v[3])
	s.attempt, s.lastSeq, s.updated = int(vInt(v[4])), vInt(v[5]), vInt(v[6])
	s.started, s.finished = vNullInt(v[7]), vNullInt(v[8])
}

// update writes the row's state and lease.
func (w *writer) update(r *stateRow) error {
	_, err := w.write(w.updateTask, r.status, r.progress, r.output, r.error, r.attempt, r.lastSeq,
		r.leaseOwner, r.leaseExpires, r.updated, r.started, r.finished, r.id)
	return err
}

// Transition changes a task's status (see store.Store). A zero Now means
// the current time, and so does a zero event Time. Moving to pending adds one
// to the attempt, resets progress and drops the lease; a terminal status
// sets FinishedAt and drops the lease; entering running sets StartedAt if
// unset. LeaseOwner is applied only when the new status is active.
func (s *Store) Transition(ctx context.Context, tr store.Transition) (coderclaw.Task, error) {
	if tr.Now.IsZero() {
		tr.Now = time.Now()
	}
	if tr.Progress != nil && (*tr.Progress < 0 || *tr.Progress > 100) {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: %w", tr.TaskID, invalid("progress: %d is outside [0, 100]", *tr.Progress))
	}
	if tr.LeaseOwner != "" && tr.LeaseUntil.IsZero() {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: %w", tr.TaskID, invalid("lease_until: must be set with a lease owner"))
	}
	if err := checkEvents(tr.Events); err != nil {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: %w", tr.TaskID, err)
	}
	if !s.enter() {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: %w", tr.TaskID, store.ErrClosed)
	}
	defer s.ops.Done()
	rows := []stateRow{{id: tr.TaskID}}
	err := s.write(ctx, withoutSavepoint, func(w *writer) error { return w.transition(&tr, &rows[0]) })
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("transition task %s to %s: %w", tr.TaskID, tr.To, err)
	}
	tasks, err := s.withFixed(context.WithoutCancel(ctx), rows)
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: read back: %w", tr.TaskID, err)
	}
	return tasks[0], nil
}

func (w *writer) transition(tr *store.Transition, r *stateRow) error {
	row, err := w.queryRow(w.selectState, tr.TaskID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	}
	r.load(row)
	from := coderclaw.Status(r.status)
	if tr.Attempt != 0 && (r.attempt != tr.Attempt || !(from.Active() || from == coderclaw.StatusWaiting)) {
		return store.ErrLeaseLost
	}
	if err := coderclaw.ValidateTransition(from, tr.To, tr.Cause); err != nil {
		return err
	}
	now := nanos(tr.Now)
	evs := make([]coderclaw.Event, 0, len(tr.Events)+1)
	for i := range tr.Events {
		r.lastSeq++
		evs = append(evs, newEvent(tr.TaskID, r.lastSeq, &r.progress, &tr.Events[i], tr.Now))
	}
	if tr.Output != nil {
		r.output = *tr.Output
	}
	if tr.Error != nil {
		r.error = *tr.Error
	}
	if tr.Progress != nil {
		r.progress = *tr.Progress
	}
	switch {
	case tr.To == coderclaw.StatusPending:
		r.attempt++
		r.progress = 0
		r.leaseOwner, r.leaseExpires = sql.NullString{}, sql.NullInt64{}
	case tr.To.Terminal():
		r.finished = sql.NullInt64{Int64: now, Valid: true}
		r.leaseOwner, r.leaseExpires = sql.NullString{}, sql.NullInt64{}
	case tr.To == coderclaw.StatusRunning && !r.started.Valid:
		r.started = sql.NullInt64{Int64: now, Valid: true}
	}
	if tr.LeaseOwner != "" && tr.To.Active() {
		r.leaseOwner = sql.NullString{String: tr.LeaseOwner, Valid: true}
		r.leaseExpires = sql.NullInt64{Int64: nanos(tr.LeaseUntil), Valid: true}
	}
	r.status = string(tr.To)
	r.lastSeq++
	r.updated = now
	evs = append(evs, coderclaw.Event{TaskID: tr.TaskID, Seq: r.lastSeq, Time: fromNanos(now), Type: coderclaw.EventStatus,
		Status: tr.To, Progress: r.progress, Actor: tr.Actor, Message: tr.Message})
	if err := w.update(r); err != nil {
		return err
	}
	w.queueEvents(evs, false)
	return nil
}

// Claim takes up to c.Limit pending tasks for c.Owner (see store.Store) and
// returns them in claim order. A Limit below 1 claims nothing; a zero Now
// means the current time. StartedAt is set to the claim's time on every
// claim: it is when the current attempt started.
func (s *Store) Claim(ctx context.Context, c store.Claim) ([]coderclaw.Task, error) {
	switch {
	case c.Owner == "":
		return nil, fmt.Errorf("claim: %w", invalid("owner: must not be empty"))
	case c.LeaseUntil.IsZero():
		return nil, fmt.Errorf("claim: %w", invalid("lease_until: must be set"))
	case c.Limit < 1:
		return nil, nil
	}
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	if !s.enter() {
		return nil, fmt.Errorf("claim: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	var rows []stateRow
	err := s.write(ctx, c.Limit > maxClaim, func(w *writer) error {
		var err error
		rows, err = w.claimTasks(&c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	tasks, err := s.withFixed(context.WithoutCancel(ctx), rows)
	if err != nil {
		return nil, fmt.Errorf("claim: read back: %w", err)
	}
	return tasks, nil
}

func (w *writer) claimTasks(c *store.Claim) ([]stateRow, error) {
	// The transitions are fixed by the statement, which only takes pending
	// tasks; they are validated all the same, once.
	if err := coderclaw.ValidateTransition(coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.ByRequest); err != nil {
		return nil, err
	}
	if err := coderclaw.ValidateTransition(coderclaw.StatusPlanning, coderclaw.StatusRunning, coderclaw.ByRequest); err != nil {
		return nil, err
	}
	now := nanos(c.Now)
	var rows []stateRow
	for limit := c.Limit; limit > 0; {
		n := min(limit, maxClaim)
		got, err := w.claimBatch(c, n, now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, got...)
		if len(got) < n {
			break
		}
		limit -= n
	}
	if len(rows) == 0 {
		return nil, nil
	}
	slices.SortFunc(rows, func(a, b stateRow) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(a.id, b.id))
	})
	tm := fromNanos(now)
	evs := make([]coderclaw.Event, 0, 2*len(rows))
	for i := range rows {
		r := &rows[i]
		evs = append(evs,
			coderclaw.Event{TaskID: r.id, Seq: r.lastSeq - 1, Time: tm, Type: coderclaw.EventStatus,
				Status: coderclaw.StatusPlanning, Progress: r.progress, Actor: c.Actor,
				Message: "claimed by " + c.Owner + ", attempt " + strconv.Itoa(r.attempt)},
			coderclaw.Event{TaskID: r.id, Seq: r.lastSeq, Time: tm, Type: coderclaw.EventStatus,
				Status: coderclaw.StatusRunning, Progress: r.progress, Actor: c.Actor})
	}
	w.queueEvents(evs, false)
	return rows, nil
}

// claimBatch runs the claim statement for up to n <= maxClaim tasks.
func (w *writer) claimBatch(c *store.Claim, n int, now int64) ([]stateRow, error) {
	st, err := w.claimStmt(n)
	if err != nil {
		return nil, err
	}
	rows, err := w.query(st, c.Owner, nanos(c.LeaseUntil), now)
	if err != nil {
		return nil, err
	}
	w.wrote = true
	defer rows.Close()
	claimed := make([]stateRow, 0, n)
	for {
		v, err := w.next(rows)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		// RETURNING id, priority, stateColumns
		r := stateRow{id: vString(v[0]), priority: int(vInt(v[1]))}
		r.taskState.load(v[2:])
		claimed = append(claimed, r)
	}
	return claimed, rows.Close()
}

// Heartbeat extends the leases owner holds (see store.Store). Leases of
// unknown tasks are lost too.
func (s *Store) Heartbeat(ctx context.Context, owner string, leases []store.Lease, until time.Time) ([]string, error) {
	if until.IsZero() {
		return nil, fmt.Errorf("heartbeat: %w", invalid("until: must be set"))
	}
	if len(leases) == 0 {
		return nil, nil
	}
	if !s.enter() {
		return nil, fmt.Errorf("heartbeat %s: %w", owner, store.ErrClosed)
	}
	defer s.ops.Done()
	var lost []string
	err := s.write(ctx, withoutSavepoint, func(w *writer) error {
		lost = lost[:0]
		for _, l := range leases {
			n, err := w.write(w.heartbeat, nanos(until), l.TaskID, l.Attempt, owner)
			if err != nil {
				return err
			}
			if n == 0 {
				lost = append(lost, l.TaskID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat %s: %w", owner, err)
	}
	return lost, nil
}

// Append writes an execution's events (see store.Store). An event with a
// zero Time is stamped with the current time. Status events are refused:
// they are written by transitions only.
func (s *Store) Append(ctx context.Context, taskID string, attempt int, evs []store.NewEvent) ([]coderclaw.Event, error) {
	if err := checkEvents(evs); err != nil {
		return nil, fmt.Errorf("append to task %s: %w", taskID, err)
	}
	if !s.enter() {
		return nil, fmt.Errorf("append to task %s: %w", taskID, store.ErrClosed)
	}
	defer s.ops.Done()
	now := time.Now()
	var out []coderclaw.Event
	err := s.write(ctx, withoutSavepoint, func(w *writer) error {
		var err error
		out, err = w.appendEvents(taskID, attempt, evs, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append to task %s: %w", taskID, err)
	}
	return out, nil
}

func (w *writer) appendEvents(taskID string, attempt int, nevs []store.NewEvent, now time.Time) ([]coderclaw.Event, error) {
	v, err := w.queryRow(w.selectFence, taskID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	status, cur, progress, lastSeq := vString(v[0]), int(vInt(v[1])), int(vInt(v[2])), vInt(v[3])
	if cur != attempt || !coderclaw.Status(status).Active() {
		return nil, store.ErrLeaseLost
	}
	if len(nevs) == 0 {
		return []coderclaw.Event{}, nil
	}
	evs := make([]coderclaw.Event, len(nevs))
	for i := range nevs {
		evs[i] = newEvent(taskID, lastSeq+int64(i)+1, &progress, &nevs[i], now)
	}
	last := evs[len(evs)-1]
	if _, err := w.write(w.updateAppend, last.Progress, last.Seq, nanos(last.Time), taskID); err != nil {
		return nil, err
	}
	w.queueEvents(evs, true)
	return evs, nil
}

// Rescue requeues or fails the active tasks whose executor is gone (see
// store.Store). A zero Now means the current time. An active task without
// a lease counts as expired.
func (s *Store) Rescue(ctx context.Context, r store.Rescue) ([]coderclaw.Task, error) {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	if !s.enter() {
		return nil, fmt.Errorf("rescue: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	var rows []stateRow
	err := s.write(ctx, withSavepoint, func(w *writer) error {
		var err error
		rows, err = w.rescue(&r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rescue: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	tasks, err := s.withFixed(context.WithoutCancel(ctx), rows)
	if err != nil {
		return nil, fmt.Errorf("rescue: read back: %w", err)
	}
	return tasks, nil
}

func (w *writer) rescue(r *store.Rescue) ([]stateRow, error) {
	now := nanos(r.Now)
	rs, err := w.query(w.rescueSelect, now, nullString(r.RestartedOwner))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var rows []stateRow
	for {
		v, err := w.next(rs)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		row := stateRow{id: vString(v[0])} // id, then as selectStateSQL
		row.load(v[1:])
		rows = append(rows, row)
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	slices.SortFunc(rows, func(a, b stateRow) int { return cmp.Compare(a.id, b.id) })
	tm := fromNanos(now)
	evs := make([]coderclaw.Event, 0, len(rows))
	for i := range rows {
		row := &rows[i]
		why := fmt.Sprintf("lease of %s expired", row.leaseOwner.String)
		switch {
		case !row.leaseOwner.Valid:
			why = "no lease"
		case r.RestartedOwner != "" && row.leaseOwner.String == r.RestartedOwner:
			why = fmt.Sprintf("owner %s restarted", r.RestartedOwner)
		}
		from, to := coderclaw.Status(row.status), coderclaw.StatusPending
		if row.attempt >= row.maxAttempts {
			to = coderclaw.StatusFailed
		}
		if err := coderclaw.ValidateTransition(from, to, coderclaw.ByRecovery); err != nil {
			return nil, err
		}
		var msg string
		if to == coderclaw.StatusPending {
			msg = fmt.Sprintf("%s; requeued for attempt %d of %d", why, row.attempt+1, row.maxAttempts)
			row.attempt++
			row.progress = 0
		} else {
			msg = fmt.Sprintf("%s; gave up after attempt %d of %d", why, row.attempt, row.maxAttempts)
			row.error = msg
			row.finished = sql.NullInt64{Int64: now, Valid: true}
		}
		row.status = string(to)
		row.lastSeq++
		row.updated = now
		row.leaseOwner, row.leaseExpires = sql.NullString{}, sql.NullInt64{}
		if err := w.update(row); err != nil {
			return nil, err
		}
		evs = append(evs, coderclaw.Event{TaskID: row.id, Seq: row.lastSeq, Time: tm, Type: coderclaw.EventStatus,
			Status: to, Progress: row.progress, Actor: r.Actor, Message: msg})
	}
	w.queueEvents(evs, false)
	return rows, nil
}

// newEvent returns the stored form of ne as event seq of its task, whose
// progress it applies (a progress event) or copies.
func newEvent(taskID string, seq int64, progress *int, ne *store.NewEvent, now time.Time) coderclaw.Event {
	if ne.Type == coderclaw.EventProgress && ne.Progress != nil {
		*progress = *ne.Progress
	}
	tm := ne.Time
	if tm.IsZero() {
		tm = now
	}
	return coderclaw.Event{TaskID: taskID, Seq: seq, Time: fromNanos(nanos(tm)), Type: ne.Type, Status: ne.Status,
		Progress: *progress, Actor: ne.Actor, Message: ne.Message, Data: ne.Data}
}

// checkEvents refuses events no backend could store faithfully.
func checkEvents(evs []store.NewEvent) error {
	for i, e := range evs {
		switch {
		case e.Type == "":
			return invalid("events[%d]: type must be set", i)
		case e.Type == coderclaw.EventStatus:
			return invalid("events[%d]: status events are written by transitions", i)
		case e.Type == coderclaw.EventProgress && e.Progress == nil:
			return invalid("events[%d]: a progress event needs a progress", i)
		case e.Progress != nil && (*e.Progress < 0 || *e.Progress > 100):
			return invalid("events[%d]: progress %d is outside [0, 100]", i, *e.Progress)
		case len(e.Data) > 0 && !json.Valid(e.Data):
			return invalid("events[%d]: data is not valid JSON", i)
		}
	}
	return nil
}
