package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// readStmts are the prepared statements of the hot reads.
type readStmts struct {
	task, taskExists, events, eventsSince *sql.Stmt
	all                                   []*sql.Stmt
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
	var errs []error
	for _, st := range r.all {
		errs = append(errs, st.Close())
	}
	r.all = nil
	return errors.Join(errs...)
}

// Task returns one task, without children.
func (s *Store) Task(ctx context.Context, id string) (coderclaw.Task, error) {
	if s.isClosed.Load() {
		return coderclaw.Task{}, fmt.Errorf("get task %s: %w", id, store.ErrClosed)
	}
	var r taskRow
	if err := r.scan(s.reads.task.QueryRowContext(ctx, id)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return coderclaw.Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	t, err := r.task()
	if err != nil {
		return coderclaw.Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, nil
}

// Tasks lists the tasks matching f by id descending (newest first for
// UUIDv7 ids). The cursor is the id of the last task of the previous page.
// Filter.CreatedAfter is inclusive, CreatedBefore exclusive. An invalid
// filter is a *coderclaw.Error with code invalid.
func (s *Store) Tasks(ctx context.Context, f coderclaw.Filter) (coderclaw.TaskPage, error) {
	if err := f.Validate(); err != nil {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
	}
	if s.isClosed.Load() {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", store.ErrClosed)
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	switch len(f.Status) {
	case 0:
	case 1:
		add("status = ?", string(f.Status[0]))
	default:
		marks := strings.Repeat(",?", len(f.Status))[1:]
		a := make([]any, len(f.Status))
		for i, st := range f.Status {
			a[i] = string(st)
		}
		add("status IN ("+marks+")", a...)
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
	size := f.PageSize()
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, size+1)

	rs, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
	}
	defer rs.Close()
	page := coderclaw.TaskPage{Tasks: make([]coderclaw.Task, 0, min(size, 64))}
	for rs.Next() {
		var r taskRow
		if err := r.scan(rs); err != nil {
			return coderclaw.TaskPage{}, fmt.Errorf("list tasks: %w", err)
		}
		t, err := r.task()
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

// Events returns up to limit events of a task with Seq > afterSeq, in order;
// limit <= 0 means all.
func (s *Store) Events(ctx context.Context, taskID string, afterSeq int64, limit int) ([]coderclaw.Event, error) {
	if s.isClosed.Load() {
		return nil, fmt.Errorf("events of task %s: %w", taskID, store.ErrClosed)
	}
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
	if s.isClosed.Load() {
		return nil, fmt.Errorf("events since %d: %w", after, store.ErrClosed)
	}
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

// Counts returns the number of tasks in each status; every status has an
// entry.
func (s *Store) Counts(ctx context.Context) (map[coderclaw.Status]int, error) {
	if s.isClosed.Load() {
		return nil, fmt.Errorf("count tasks: %w", store.ErrClosed)
	}
	rs, err := s.readDB.QueryContext(ctx, "SELECT status, COUNT(*) FROM tasks GROUP BY status")
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
