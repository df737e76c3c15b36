package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/store"
)

// A request is one write waiting for the writer. Its state moves from queued
// to taken (by the writer) or to abandoned (by a caller whose context ended
// first), once.
//
// A request's fn either refuses (returns a refusal, see isRefusal) before
// its first write statement, or runs to the end; any other error fails the
// whole batch. A request with more than one write statement sets savepoint,
// so that a refusal after a write rolls back that request alone; the others
// (CreateTask, Transition, Append, most Claims) have one write statement,
// which SQLite itself undoes if it fails on a constraint, and so need none.
type request struct {
	fn        func(w *writer) error
	savepoint bool
	state     atomic.Uint32
	err       error
	done      chan struct{}
}

const (
	queued uint32 = iota
	taken
	abandoned
)

// write runs fn on the writer goroutine inside the next batch transaction
// and returns its error, or the batch's. fn's effects are durable when
// write returns nil; when it returns an error they are not applied.
func (s *Store) write(ctx context.Context, savepoint bool, fn func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, savepoint: savepoint, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		// The writer has it: the outcome comes with the batch.
		<-r.done
		return r.err
	}
}

// run is the writer goroutine: it commits the queued requests in batches
// until reqs is closed and drained.
func (s *Store) run() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.cfg.MaxBatch)
	for r := range s.reqs {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch) // let the requests be collected
	}
}

// isRefusal reports whether err is a request's refusal (an unknown task, a
// lost lease, an invalid transition, a conflict or an invalid request), as
// opposed to a failure of the database.
func isRefusal(err error) bool {
	var te *coderclaw.InvalidTransitionError
	var ce *coderclaw.Error
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) ||
		errors.As(err, &te) || errors.As(err, &ce)
}

// commit runs the batch's requests in one transaction, writes the events
// they queued, commits, and answers them.
func (s *Store) commit(batch []*request) {
	reqs := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(queued, taken) {
			reqs = append(reqs, r)
		}
	}
	if len(reqs) == 0 {
		return
	}
	s.batches.Add(1)
	s.requests.Add(uint64(len(reqs)))
	if n := uint64(len(reqs)); n > s.largestSeen.Load() {
		s.largestSeen.Store(n) // only this goroutine stores
	}
	defer func() {
		for _, r := range reqs {
			close(r.done)
		}
	}()

	w := s.w
	w.resetEvents(0, 0)
	if err := w.exec(w.begin); err != nil {
		s.fail(reqs, fmt.Errorf("begin: %w", err))
		return
	}
	ok := 0
	for _, r := range reqs {
		nev, nref := len(w.events), len(w.refs)
		if r.savepoint {
			if err := w.exec(w.savepoint); err != nil {
				s.abort(reqs, fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		w.wrote = false
		r.err = w.call(r.fn)
		switch {
		case r.err == nil:
			ok++
			if r.savepoint {
				if err := w.exec(w.release); err != nil {
					s.abort(reqs, fmt.Errorf("release savepoint: %w", err))
					return
				}
			}
			continue
		case !isRefusal(r.err):
			s.abort(reqs, r.err)
			return
		case r.savepoint:
			if err := w.exec(w.rollbackTo); err != nil {
				s.abort(reqs, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
			if err := w.exec(w.release); err != nil {
				s.abort(reqs, fmt.Errorf("release savepoint: %w", err))
				return
			}
		case w.wrote:
			// A refusal after a write without a savepoint: the request
			// cannot be undone alone. No request does this; if one ever
			// does, nothing half-done may be committed.
			s.abort(reqs, fmt.Errorf("request refused after writing (%w)", r.err))
			return
		}
		w.resetEvents(nev, nref) // the refused request's events
	}
	if ok == 0 {
		if err := w.exec(w.rollback); err != nil {
			s.log.Error("rollback failed", "err", err)
		}
		return
	}
	if err := w.flushEvents(); err != nil {
		s.abort(reqs, err)
		return
	}
	if err := w.exec(w.commit); err != nil {
		s.abort(reqs, fmt.Errorf("commit: %w", err))
	}
}

// abort rolls the batch's transaction back and fails every request in it
// with err: even a refusal may have rested on a write of the batch that is
// now undone.
func (s *Store) abort(reqs []*request, err error) {
	if rerr := s.w.exec(s.w.rollback); rerr != nil && !strings.Contains(rerr.Error(), "no transaction is active") {
		s.log.Error("rollback failed", "err", rerr)
	}
	s.fail(reqs, err)
}

func (s *Store) fail(reqs []*request, err error) {
	s.log.Error("write batch failed", "requests", len(reqs), "err", err)
	err = fmt.Errorf("write batch rolled back: %w", err)
	for _, r := range reqs {
		r.err = err
	}
	s.w.resetEvents(0, 0)
}

// writer is the write connection, its prepared statements and the events
// the current batch has queued. Only the writer goroutine (and Open, before
// it starts) uses it.
type writer struct {
	conn *sql.Conn
	ctx  context.Context

	begin, commit, rollback             *sql.Stmt
	savepoint, release, rollbackTo      *sql.Stmt
	insertTask, selectTask, selectFence *sql.Stmt
	updateTask, updateAppend            *sql.Stmt
	heartbeat, rescueSelect             *sql.Stmt
	// insertEvents[n] inserts n event rows and claims[n] claims n tasks;
	// both are prepared on first use.
	insertEvents [maxEventRows + 1]*sql.Stmt
	claims       [maxClaim + 1]*sql.Stmt
	stmts        []*sql.Stmt

	// events are the rows the batch's requests queued, written by
	// flushEvents just before the commit; refs are the queued slices whose
	// callers want the positions back.
	events []coderclaw.Event
	refs   []eventRef
	args   []any
	// wrote records that the running request executed a write statement.
	wrote bool
}

type eventRef struct {
	evs   []coderclaw.Event
	start int
}

// maxEventRows bounds the rows of one multi-row event INSERT (9 parameters
// each, far below SQLite's limit on parameters).
const maxEventRows = 128

// maxClaim bounds the tasks one claim statement takes; a larger Claim runs
// it several times.
const maxClaim = 64

// call runs fn, turning a panic into an error so that one bad request
// cannot take the writer, and every caller with it, down.
func (w *writer) call(fn func(w *writer) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(w)
}

func newWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{conn: conn, ctx: context.WithoutCancel(ctx)}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT req"},
		{&w.release, "RELEASE req"},
		{&w.rollbackTo, "ROLLBACK TO req"},
		{&w.insertTask, insertTaskSQL},
		{&w.selectTask, "SELECT " + taskColumns + ", lease_owner, lease_expires_at FROM tasks WHERE id = ?"},
		{&w.selectFence, "SELECT status, attempt, progress, last_seq FROM tasks WHERE id = ?"},
		{&w.updateTask, updateTaskSQL},
		{&w.updateAppend, "UPDATE tasks SET progress = ?, last_seq = ?, updated_at = ? WHERE id = ?"},
		{&w.heartbeat, heartbeatSQL},
		{&w.rescueSelect, rescueSelectSQL},
	} {
		st, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			_ = w.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
		w.stmts = append(w.stmts, st)
	}
	return w, nil
}

// exec runs a statement that returns no rows.
func (w *writer) exec(st *sql.Stmt, args ...any) error {
	_, err := st.ExecContext(w.ctx, args...)
	return err
}

// write runs a write statement of the current request and returns the
// number of rows it changed.
func (w *writer) write(st *sql.Stmt, args ...any) (int64, error) {
	res, err := st.ExecContext(w.ctx, args...)
	if err != nil {
		return 0, err
	}
	w.wrote = true
	return res.RowsAffected()
}

// queueEvents queues event rows for the batch's commit. With positions,
// the Position fields of evs are set when the rows are written.
func (w *writer) queueEvents(evs []coderclaw.Event, positions bool) {
	if positions {
		w.refs = append(w.refs, eventRef{evs: evs, start: len(w.events)})
	}
	w.events = append(w.events, evs...)
}

// resetEvents drops the events and refs queued after the given lengths.
func (w *writer) resetEvents(events, refs int) {
	clear(w.events[events:])
	w.events = w.events[:events]
	clear(w.refs[refs:])
	w.refs = w.refs[:refs]
}

// flushEvents writes the queued events with multi-row INSERTs, in queue
// order, and hands the positions back. The positions of one statement are
// consecutive: the writer is the only one inserting, and AUTOINCREMENT
// counts up row by row.
func (w *writer) flushEvents() error {
	evs := w.events
	for len(evs) > 0 {
		n := min(len(evs), maxEventRows)
		st, err := w.eventStmt(n)
		if err != nil {
			return err
		}
		args := w.args[:0]
		for i := range evs[:n] {
			e := &evs[i]
			args = append(args, e.TaskID, e.Seq, nanos(e.Time), string(e.Type), nullString(string(e.Status)),
				e.Progress, nullString(e.Actor), nullString(e.Message), nullBytes(e.Data))
		}
		res, err := st.ExecContext(w.ctx, args...)
		clear(args)
		w.args = args[:0]
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		last, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		for i := range evs[:n] {
			evs[i].Position = last - int64(n-1-i)
		}
		evs = evs[n:]
	}
	for _, ref := range w.refs {
		for i := range ref.evs {
			ref.evs[i].Position = w.events[ref.start+i].Position
		}
	}
	return nil
}

// eventStmt returns the statement inserting n event rows, 1 <= n <=
// maxEventRows.
func (w *writer) eventStmt(n int) (*sql.Stmt, error) {
	if st := w.insertEvents[n]; st != nil {
		return st, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO events (task_id, seq, time, type, status, progress, actor, message, data) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?)")
	}
	st, err := w.conn.PrepareContext(w.ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("prepare event insert: %w", err)
	}
	w.insertEvents[n] = st
	w.stmts = append(w.stmts, st)
	return st, nil
}

// claimStmt returns the statement claiming n tasks, 1 <= n <= maxClaim.
func (w *writer) claimStmt(n int) (*sql.Stmt, error) {
	if st := w.claims[n]; st != nil {
		return st, nil
	}
	st, err := w.conn.PrepareContext(w.ctx, fmt.Sprintf(claimSQL, n))
	if err != nil {
		return nil, fmt.Errorf("prepare claim: %w", err)
	}
	w.claims[n] = st
	w.stmts = append(w.stmts, st)
	return st, nil
}

// close releases the prepared statements and the connection.
func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	w.stmts = nil
	if w.conn != nil {
		errs = append(errs, w.conn.Close())
		w.conn = nil
	}
	return errors.Join(errs...)
}

// nanos is the stored form of a time.
func nanos(t time.Time) int64 { return t.UnixNano() }
