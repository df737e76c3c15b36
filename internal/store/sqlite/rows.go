package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coderclaw/coderclaw"
)

// A task's columns fall in two groups. The fixed ones are written once by
// CreateTask and never change; the state ones change with every write. The
// writer reads and returns only the state, and the caller reads the fixed
// columns from the read pool after the commit, which is consistent because
// they never change: this keeps the single writer goroutine's work small.
const (
	fixedColumns = "id, description, input, agent_id, parent_id, session_id, project, repo, " +
		"labels, metadata, priority, max_attempts, created_at, submitter"
	stateColumns = "status, progress, output, error, attempt, last_seq, updated_at, started_at, finished_at"
	taskColumns  = fixedColumns + ", " + stateColumns
)

// eventColumns are the columns an event is read from, in scanEvent order.
const eventColumns = "position, task_id, seq, time, type, status, progress, actor, message, data"

type scanner interface{ Scan(dest ...any) error }

// taskFixed holds the fixed columns of a task; labels and metadata stay
// encoded until task().
type taskFixed struct {
	id, description, input, agentID string
	parent, session, project        sql.NullString
	repo                            string
	labels, metadata                sql.NullString
	priority, maxAttempts           int
	created                         int64
	submitter                       sql.NullString
}

func (f *taskFixed) dest() []any {
	return []any{&f.id, &f.description, &f.input, &f.agentID, &f.parent, &f.session, &f.project, &f.repo,
		&f.labels, &f.metadata, &f.priority, &f.maxAttempts, &f.created, &f.submitter}
}

// taskState holds the state columns of a task.
type taskState struct {
	status            string
	progress, attempt int
	output, error     string
	lastSeq, updated  int64
	started, finished sql.NullInt64
}

func (s *taskState) dest() []any {
	return []any{&s.status, &s.progress, &s.output, &s.error, &s.attempt, &s.lastSeq, &s.updated, &s.started, &s.finished}
}

// task combines fixed columns and state into a coderclaw.Task.
func task(f *taskFixed, s *taskState) (coderclaw.Task, error) {
	t := coderclaw.Task{
		ID: f.id, Description: f.description, Input: f.input, AgentID: f.agentID,
		ParentID: f.parent.String, SessionID: f.session.String, Project: f.project.String, Repo: f.repo,
		Priority: f.priority, MaxAttempts: f.maxAttempts, CreatedAt: fromNanos(f.created),
		Status: coderclaw.Status(s.status), Progress: s.progress, Output: s.output, Error: s.error,
		Attempt: s.attempt, LastSeq: s.lastSeq, UpdatedAt: fromNanos(s.updated),
		StartedAt: optTime(s.started), FinishedAt: optTime(s.finished),
	}
	var err error
	if t.Labels, err = decodeMap(f.labels); err != nil {
		return coderclaw.Task{}, fmt.Errorf("task %s: labels: %w", t.ID, err)
	}
	if t.Metadata, err = decodeMap(f.metadata); err != nil {
		return coderclaw.Task{}, fmt.Errorf("task %s: metadata: %w", t.ID, err)
	}
	if f.submitter.Valid && f.submitter.String != "" {
		if err := json.Unmarshal([]byte(f.submitter.String), &t.Submitter); err != nil {
			return coderclaw.Task{}, fmt.Errorf("task %s: submitter: %w", t.ID, err)
		}
	}
	return t, nil
}

// scanTask reads the taskColumns.
func scanTask(sc scanner) (coderclaw.Task, error) {
	var (
		f taskFixed
		s taskState
	)
	if err := sc.Scan(append(f.dest(), s.dest()...)...); err != nil {
		return coderclaw.Task{}, err
	}
	return task(&f, &s)
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

// encodeSubmitter returns the stored form of a task's submitter: NULL for
// none.
func encodeSubmitter(p coderclaw.Principal) (any, error) {
	if p.UserID == "" && p.Method == "" {
		return nil, nil
	}
	b, err := json.Marshal(p)
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
