package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

const insertTaskSQL = `INSERT INTO tasks (id, description, input, agent_id, status, progress, output, error,
	parent_id, session_id, project, repo, labels, metadata, priority, attempt, max_attempts, last_seq,
	created_at, updated_at, started_at, finished_at)
	VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULL, NULL)`

const updateTaskSQL = `UPDATE tasks SET status = ?, progress = ?, output = ?, error = ?, attempt = ?,
	last_seq = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ?, started_at = ?, finished_at = ?
	WHERE id = ?`

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
	RETURNING ` + taskColumns

const heartbeatSQL = `UPDATE tasks SET lease_expires_at = ?
	WHERE id = ? AND attempt = ? AND lease_owner = ? AND status IN ('planning', 'running')`

// rescueSelectSQL finds active tasks whose lease lapsed (or that have none)
// or whose owner restarted; it walks the tasks_active index.
const rescueSelectSQL = `SELECT ` + taskColumns + `, lease_owner, lease_expires_at FROM tasks
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
		t.Priority, t.Attempt, t.MaxAttempts, nanos(t.CreatedAt), nanos(t.UpdatedAt)}
	ev := []coderclaw.Event{{TaskID: t.ID, Seq: 1, Time: t.CreatedAt, Type: coderclaw.EventStatus,
		Status: coderclaw.StatusPending, Progress: t.Progress, Actor: actor, Message: "created"}}
	err = s.write(ctx, false, func(w *writer) error {
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
	var row taskRow
	err := s.write(ctx, false, func(w *writer) error { return w.transition(&tr, &row) })
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("transition task %s to %s: %w", tr.TaskID, tr.To, err)
	}
	t, err := row.task()
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("transition task %s: %w", tr.TaskID, err)
	}
	return t, nil
}

func (w *writer) transition(tr *store.Transition, r *taskRow) error {
	if err := r.scanWithLease(w.selectTask.QueryRowContext(w.ctx, tr.TaskID)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	}
	t := &r.t
	if tr.Attempt != 0 && (t.Attempt != tr.Attempt || !(t.Status.Active() || t.Status == coderclaw.StatusWaiting)) {
		return store.ErrLeaseLost
	}
	if err := coderclaw.ValidateTransition(t.Status, tr.To, tr.Cause); err != nil {
		return err
	}
	now := nanos(tr.Now)
	evs := make([]coderclaw.Event, 0, len(tr.Events)+1)
	seq := t.LastSeq
	for i := range tr.Events {
		seq++
		evs = append(evs, newEvent(t, seq, &tr.Events[i], tr.Now))
	}
	if tr.Output != nil {
		t.Output = *tr.Output
	}
	if tr.Error != nil {
		t.Error = *tr.Error
	}
	if tr.Progress != nil {
		t.Progress = *tr.Progress
	}
	switch {
	case tr.To == coderclaw.StatusPending:
		t.Attempt++
		t.Progress = 0
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
	t.Status = tr.To
	seq++
	evs = append(evs, coderclaw.Event{TaskID: t.ID, Seq: seq, Time: fromNanos(now), Type: coderclaw.EventStatus,
		Status: tr.To, Progress: t.Progress, Actor: tr.Actor, Message: tr.Message})
	t.LastSeq = seq
	t.UpdatedAt = fromNanos(now)
	t.StartedAt, t.FinishedAt = optTime(r.started), optTime(r.finished)
	if _, err := w.write(w.updateTask, string(t.Status), t.Progress, t.Output, t.Error, t.Attempt, t.LastSeq,
		r.leaseOwner, r.leaseExpires, now, r.started, r.finished, t.ID); err != nil {
		return err
	}
	w.queueEvents(evs, false)
	return nil
}

// Claim takes up to c.Limit pending tasks for c.Owner (see store.Store). A
// Limit below 1 claims nothing; a zero Now means the current time. StartedAt
// is set to the claim's time on every claim: it is when the current attempt
// started.
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
	var rows []taskRow
	err := s.write(ctx, c.Limit > maxClaim, func(w *writer) error {
		var err error
		rows, err = w.claimTasks(&c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	tasks := make([]coderclaw.Task, len(rows))
	for i := range rows {
		if tasks[i], err = rows[i].task(); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	return tasks, nil
}

func (w *writer) claimTasks(c *store.Claim) ([]taskRow, error) {
	// The transitions are fixed by the statement, which only takes pending
	// tasks; they are validated all the same, once.
	if err := coderclaw.ValidateTransition(coderclaw.StatusPending, coderclaw.StatusPlanning, coderclaw.ByRequest); err != nil {
		return nil, err
	}
	if err := coderclaw.ValidateTransition(coderclaw.StatusPlanning, coderclaw.StatusRunning, coderclaw.ByRequest); err != nil {
		return nil, err
	}
	now := nanos(c.Now)
	var rows []taskRow
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
	slices.SortFunc(rows, func(a, b taskRow) int {
		return cmp.Or(cmp.Compare(b.t.Priority, a.t.Priority), cmp.Compare(a.t.ID, b.t.ID))
	})
	tm := fromNanos(now)
	evs := make([]coderclaw.Event, 0, 2*len(rows))
	for i := range rows {
		t := &rows[i].t
		evs = append(evs,
			coderclaw.Event{TaskID: t.ID, Seq: t.LastSeq - 1, Time: tm, Type: coderclaw.EventStatus,
				Status: coderclaw.StatusPlanning, Progress: t.Progress, Actor: c.Actor,
				Message: fmt.Sprintf("claimed by %s, attempt %d", c.Owner, t.Attempt)},
			coderclaw.Event{TaskID: t.ID, Seq: t.LastSeq, Time: tm, Type: coderclaw.EventStatus,
				Status: coderclaw.StatusRunning, Progress: t.Progress, Actor: c.Actor})
	}
	w.queueEvents(evs, false)
	return rows, nil
}

// claimBatch runs the claim statement for up to n <= maxClaim tasks.
func (w *writer) claimBatch(c *store.Claim, n int, now int64) ([]taskRow, error) {
	st, err := w.claimStmt(n)
	if err != nil {
		return nil, err
	}
	rs, err := st.QueryContext(w.ctx, c.Owner, nanos(c.LeaseUntil), now)
	if err != nil {
		return nil, err
	}
	w.wrote = true
	defer rs.Close()
	rows := make([]taskRow, 0, n)
	for rs.Next() {
		rows = append(rows, taskRow{})
		if err := rows[len(rows)-1].scan(rs); err != nil {
			return nil, err
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return rows, rs.Close()
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
	var lost []string
	err := s.write(ctx, false, func(w *writer) error {
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
	now := time.Now()
	var out []coderclaw.Event
	err := s.write(ctx, false, func(w *writer) error {
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
	var t coderclaw.Task
	var status string
	err := w.selectFence.QueryRowContext(w.ctx, taskID).Scan(&status, &t.Attempt, &t.Progress, &t.LastSeq)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	t.ID, t.Status = taskID, coderclaw.Status(status)
	if t.Attempt != attempt || !t.Status.Active() {
		return nil, store.ErrLeaseLost
	}
	if len(nevs) == 0 {
		return []coderclaw.Event{}, nil
	}
	evs := make([]coderclaw.Event, len(nevs))
	for i := range nevs {
		evs[i] = newEvent(&t, t.LastSeq+int64(i)+1, &nevs[i], now)
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
	var rows []taskRow
	err := s.write(ctx, true, func(w *writer) error {
		var err error
		rows, err = w.rescue(&r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rescue: %w", err)
	}
	tasks := make([]coderclaw.Task, len(rows))
	for i := range rows {
		if tasks[i], err = rows[i].task(); err != nil {
			return nil, fmt.Errorf("rescue: %w", err)
		}
	}
	return tasks, nil
}

func (w *writer) rescue(r *store.Rescue) ([]taskRow, error) {
	now := nanos(r.Now)
	rs, err := w.rescueSelect.QueryContext(w.ctx, now, nullString(r.RestartedOwner))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var rows []taskRow
	for rs.Next() {
		rows = append(rows, taskRow{})
		if err := rows[len(rows)-1].scanWithLease(rs); err != nil {
			return nil, err
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	slices.SortFunc(rows, func(a, b taskRow) int { return cmp.Compare(a.t.ID, b.t.ID) })
	tm := fromNanos(now)
	evs := make([]coderclaw.Event, 0, len(rows))
	for i := range rows {
		row := &rows[i]
		t := &row.t
		why := fmt.Sprintf("lease of %s expired", row.leaseOwner.String)
		switch {
		case !row.leaseOwner.Valid:
			why = "no lease"
		case r.RestartedOwner != "" && row.leaseOwner.String == r.RestartedOwner:
			why = fmt.Sprintf("owner %s restarted", r.RestartedOwner)
		}
		to := coderclaw.StatusPending
		if t.Attempt >= t.MaxAttempts {
			to = coderclaw.StatusFailed
		}
		if err := coderclaw.ValidateTransition(t.Status, to, coderclaw.ByRecovery); err != nil {
			return nil, err
		}
		var msg string
		if to == coderclaw.StatusPending {
			msg = fmt.Sprintf("%s; requeued for attempt %d of %d", why, t.Attempt+1, t.MaxAttempts)
			t.Attempt++
			t.Progress = 0
		} else {
			msg = fmt.Sprintf("%s; gave up after attempt %d of %d", why, t.Attempt, t.MaxAttempts)
			t.Error = msg
			row.finished = sql.NullInt64{Int64: now, Valid: true}
			t.FinishedAt = &tm
		}
		t.Status = to
		t.LastSeq++
		t.UpdatedAt = tm
		if _, err := w.write(w.updateTask, string(t.Status), t.Progress, t.Output, t.Error, t.Attempt, t.LastSeq,
			nil, nil, now, row.started, row.finished, t.ID); err != nil {
			return nil, err
		}
		evs = append(evs, coderclaw.Event{TaskID: t.ID, Seq: t.LastSeq, Time: tm, Type: coderclaw.EventStatus,
			Status: to, Progress: t.Progress, Actor: r.Actor, Message: msg})
	}
	w.queueEvents(evs, false)
	return rows, nil
}

// newEvent returns the stored form of ne as event seq of t, applying a
// progress event to t.
func newEvent(t *coderclaw.Task, seq int64, ne *store.NewEvent, now time.Time) coderclaw.Event {
	if ne.Type == coderclaw.EventProgress && ne.Progress != nil {
		t.Progress = *ne.Progress
	}
	tm := ne.Time
	if tm.IsZero() {
		tm = now
	}
	return coderclaw.Event{TaskID: t.ID, Seq: seq, Time: fromNanos(nanos(tm)), Type: ne.Type, Status: ne.Status,
		Progress: t.Progress, Actor: ne.Actor, Message: ne.Message, Data: ne.Data}
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
