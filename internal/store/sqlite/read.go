package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// readStmts are the prepared statements of the hot reads.
type readStmts struct {
	task, taskExists, events, eventsSince *sql.Stmt

	mu sync.Mutex
	// fixed[n] reads the fixed columns of n tasks; prepared on first use.
	fixed [maxClaim + 1]*sql.Stmt
	all   []*sql.Stmt
}

// fixedStmt returns the statement reading the fixed columns of n tasks,
// 1 <= n <= maxClaim.
func (r *readStmts) fixedStmt(ctx context.Context, db *sql.DB, n int) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.fixed[n]; st != nil {
		return st, nil
	}
	q := "SELECT " + fixedColumns + " FROM tasks WHERE id IN (" + strings.Repeat(",?", n)[1:] + ")"
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	r.fixed[n] = st
	r.all = append(r.all, st)
	return st, nil
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&r.task, "SELECT " + taskColumns + " FROM tasks WHERE id = ?"},
		{&r.taskExists, "SELECT 1 FROM tasks WHERE id = ?"},
		{&r.events, "SELECT " + eventColumns + " FROM events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?"},
		{&r.eventsSince, "SELECT " + eventColumns + " FROM events WHERE position > ? ORDER BY position LIMIT ?"},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			_ = r.close()
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
		r.all = append(r.all, st)
	}
	return nil
}

func (r *readStmts) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, st := range r.all {
		errs = append(errs, st.Close())
	}
	r.all = nil
	return errors.Join(errs...)
}

// Task returns one task, without children.
func (s *Store) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	if !s.enter() {
		return coderclaw.Task{}, fmt.Errorf("get task %s: %w", id, store.ErrClosed)
	}
	defer s.ops.Done()
	t, err := scanTask(s.reads.task.QueryRowContext(ctx, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return coderclaw.Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, nil
}

// withFixed completes the states the writer returned with the tasks' fixed
// columns, in order.
func (s *Store) withFixed(ctx context.Context, states []stateRow) ([]coderclaw.Task, error) {
	tasks := make([]coderclaw.Task, len(states))
	fixed := make([]taskFixed, len(states))
	byID := make(map[string]*taskFixed, len(states))
	for chunk := range slices.Chunk(states, maxClaim) {
		st, err := s.reads.fixedStmt(ctx, s.readDB, len(chunk))
		if err != nil {
			return nil, err
		}
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i].id
		}
		rs, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			f := &fixed[len(byID)]
			if err := rs.Scan(f.dest()...); err != nil {
				rs.Close()
				return nil, err
			}
			byID[f.id] = f
		}
		if err := errors.Join(rs.Err(), rs.Close()); err != nil {
			return nil, err
		}
	}
	for i := range states {
		f := byID[states[i].id]
		if f == nil {
			return nil, fmt.Errorf("task %s: %w", states[i].id, store.ErrNotFound)
		}
		var err error
		if tasks[i], err = task(f, &states[i].taskState); err != nil {
			return nil, err
		}
	}
	return tasks, nil
}

// Tasks lists the tasks matching f by id descending (newest first for
// UUIDv7 ids). The cursor is the id of the last task of the previous page.
// Filter.CreatedAfter is inclusive, CreatedBefore exclusive. An invalid
// filter is a *coderclaw.Error with code invalid.
func (s *Store) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	if err := f.Validate(); err != nil {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
	}
	if !s.enter() {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	size := f.PageSize()
	q, args := tasksQuery(f, size+1)
	rs, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
	}
	defer rs.Close()
	page := coderclaw.TaskPage{Tasks: make([]coderclaw.Task, 0, min(size, 64))}
	for rs.Next() {
		t, err := scanTask(rs)
		if err != nil {
			return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
		}
		page.Tasks = append(page.Tasks, t)
	}
	if err := rs.Err(); err != nil {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
	}
	if len(page.Tasks) > size {
		page.Tasks = page.Tasks[:size]
		page.NextCursor = page.Tasks[size-1].ID
	}
	return page, nil
}

// tasksQuery returns the query listing the tasks f selects, up to limit.
func tasksQuery(f coderclaw.Filter, limit int) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if len(f.Status) > 0 {
		add(statusCondition(f.Status))
	}
	if f.AgentID != "" {
		add("agent_id = ?", f.AgentID)
	}
	if f.SessionID != "" {
		add("session_id = ?", f.SessionID)
	}
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if f.ParentID != "" {
		add("parent_id = ?", f.ParentID)
	}
	if !f.CreatedAfter.IsZero() {
		add("created_at >= ?", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < ?", nanos(f.CreatedBefore))
	}
	if f.Cursor != "" {
		add("id < ?", f.Cursor)
	}
	q := "SELECT " + taskColumns + " FROM tasks"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	return q, args
}

// statusCondition returns the WHERE term selecting statuses. The statuses
// are literals, not parameters, so that the planner can prove the partial
// indexes usable: a filter without pending says so, which lets it use
// tasks_status. Filter.Validate has checked the values are statuses.
func statusCondition(statuses []coderclaw.Status) string {
	lits := make([]string, 0, len(statuses))
	pending := false
	for _, st := range statuses {
		pending = pending || st == coderclaw.StatusPending
		lits = append(lits, "'"+strings.ReplaceAll(string(st), "'", "''")+"'")
	}
	cond := "status IN (" + strings.Join(lits, ", ") + ")"
	if !pending {
		cond += " AND status <> 'pending'"
	}
	return cond
}

// Events returns up to limit events of a task with Seq > afterSeq, in order;
// limit <= 0 means all.
func (s *Store) Events(ctx context.Context, taskID string, afterSeq int64, limit int) ([]coderclaw.Event, error) {
	if !s.enter() {
		return nil, fmt.Errorf("events of task %s: %w", taskID, store.ErrClosed)
	}
	defer s.ops.Done()
	evs, err := s.queryEvents(ctx, s.reads.events, taskID, afterSeq, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("events of task %s: %w", taskID, err)
	}
	if len(evs) == 0 {
		// A task always has an event; none after afterSeq may still mean
		// an unknown task.
		var one int
		if err := s.reads.taskExists.QueryRowContext(ctx, taskID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				err = store.ErrNotFound
			}
			return nil, fmt.Errorf("events of task %s: %w", taskID, err)
		}
	}
	return evs, nil
}

// EventsSince returns up to limit events of all tasks with Position >
// after, in position order; limit <= 0 means all.
func (s *Store) EventsSince(ctx context.Context, after int64, limit int) ([]coderclaw.Event, error) {
	if !s.enter() {
		return nil, fmt.Errorf("events since %d: %w", after, store.ErrClosed)
	}
	defer s.ops.Done()
	evs, err := s.queryEvents(ctx, s.reads.eventsSince, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("events since %d: %w", after, err)
	}
	return evs, nil
}

func (s *Store) queryEvents(ctx context.Context, st *sql.Stmt, args ...any) ([]coderclaw.Event, error) {
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	evs := []coderclaw.Event{}
	for rs.Next() {
		e, err := scanEvent(rs)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, rs.Err()
}

// sqlLimit maps "zero or less means all" to SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// countsSQL counts tasks by status; each part is an index-only scan.
const countsSQL = `SELECT 'pending', COUNT(*) FROM tasks WHERE status = 'pending'
	UNION ALL SELECT status, COUNT(*) FROM tasks WHERE status <> 'pending' GROUP BY status`

// Counts returns the number of tasks in each status; every status has an
// entry.
func (s *Store) Counts(ctx context.Context) (map[coderclaw.Status]int, error) {
	if !s.enter() {
		return nil, fmt.Errorf("count tasks: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	rs, err := s.readDB.QueryContext(ctx, countsSQL)
	if err != nil {
		return nil, fmt.Errorf("count tasks: %w", err)
	}
	defer rs.Close()
	counts := make(map[coderclaw.Status]int, len(coderclaw.Statuses()))
	for _, st := range coderclaw.Statuses() {
		counts[st] = 0
	}
	for rs.Next() {
		var st string
		var n int
		if err := rs.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count tasks: %w", err)
		}
		counts[coderclaw.Status(st)] = n
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("count tasks: %w", err)
	}
	return counts, nil
}
