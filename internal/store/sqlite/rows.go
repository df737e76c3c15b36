package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coderclaw/coderclaw"
)

// taskColumns are the columns a task is read from, in taskRow.scan order.
const taskColumns = "id, description, input, agent_id, status, progress, output, error, " +
	"parent_id, session_id, project, repo, labels, metadata, priority, attempt, max_attempts, " +
	"last_seq, created_at, updated_at, started_at, finished_at"

// eventColumns are the columns an event is read from, in scanEvent order.
const eventColumns = "position, task_id, seq, time, type, status, progress, actor, message, data"

// taskRow is a task as stored. Labels and metadata stay encoded until
// task() so that the writer goroutine does no JSON work.
type taskRow struct {
	t                 coderclaw.Task
	labels, metadata  sql.NullString
	started, finished sql.NullInt64
	leaseOwner        sql.NullString
	leaseExpires      sql.NullInt64
	parent, session   sql.NullString
	project           sql.NullString
	created, updated  int64
	status            string
}

type scanner interface{ Scan(dest ...any) error }

// scan reads the taskColumns, followed by extra destinations.
func (r *taskRow) scan(sc scanner, extra ...any) error {
	t := &r.t
	dest := []any{&t.ID, &t.Description, &t.Input, &t.AgentID, &r.status, &t.Progress, &t.Output, &t.Error,
		&r.parent, &r.session, &r.project, &t.Repo, &r.labels, &r.metadata, &t.Priority, &t.Attempt, &t.MaxAttempts,
		&t.LastSeq, &r.created, &r.updated, &r.started, &r.finished}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	t.Status = coderclaw.Status(r.status)
	t.ParentID, t.SessionID, t.Project = r.parent.String, r.session.String, r.project.String
	t.CreatedAt, t.UpdatedAt = fromNanos(r.created), fromNanos(r.updated)
	t.StartedAt, t.FinishedAt = optTime(r.started), optTime(r.finished)
	return nil
}

// scanWithLease reads the taskColumns followed by the lease columns.
func (r *taskRow) scanWithLease(sc scanner) error {
	return r.scan(sc, &r.leaseOwner, &r.leaseExpires)
}

// task returns the row as a coderclaw.Task, decoding labels and metadata.
func (r *taskRow) task() (coderclaw.Task, error) {
	t := r.t
	var err error
	if t.Labels, err = decodeMap(r.labels); err != nil {
		return coderclaw.Task{}, fmt.Errorf("task %s: labels: %w", t.ID, err)
	}
	if t.Metadata, err = decodeMap(r.metadata); err != nil {
		return coderclaw.Task{}, fmt.Errorf("task %s: metadata: %w", t.ID, err)
	}
	return t, nil
}

func decodeMap(s sql.NullString) (map[string]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// encodeMap returns the stored form of a map: NULL when empty, so the
// common case costs no JSON work.
func encodeMap(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// scanEvent reads the eventColumns.
func scanEvent(sc scanner) (coderclaw.Event, error) {
	var (
		e                      coderclaw.Event
		tm                     int64
		typ                    string
		status, actor, message sql.NullString
		data                   []byte
	)
	if err := sc.Scan(&e.Position, &e.TaskID, &e.Seq, &tm, &typ, &status, &e.Progress, &actor, &message, &data); err != nil {
		return coderclaw.Event{}, err
	}
	e.Time = fromNanos(tm)
	e.Type = coderclaw.EventType(typ)
	e.Status = coderclaw.Status(status.String)
	e.Actor, e.Message = actor.String, message.String
	if len(data) > 0 {
		e.Data = data
	}
	return e, nil
}

// fromNanos is the inverse of nanos; times come back in UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func optTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

func optNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

// nullString stores an empty string as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBytes stores an empty payload as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
