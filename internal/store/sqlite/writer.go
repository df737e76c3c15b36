package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
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
// A request's fn refuses (returns an error isRefusal accepts) only before
// its first write statement, so that a refusal leaves nothing to undo; a
// request with several write statements (Rescue, a Claim beyond maxClaim)
// sets savepoint all the same, so that if it ever refuses midway it rolls
// back alone. A single write statement that fails on a constraint (a
// duplicate id) is undone by SQLite itself. Any other error fails the whole
// batch, and so does a refusal after a write without a savepoint.
type request struct {
	fn        func(w *writer) error
	savepoint bool
	state     atomic.Uint32
	err       error
	done      chan struct{}
}

// Arguments of Store.write.
const (
	withSavepoint    = true
	withoutSavepoint = false
)

const (
	queued uint32 = iota
	taken
	abandoned
)

// write runs fn on the writer goroutine inside the next batch transaction
// and returns its error, or the batch's. fn's effects are durable when
// write returns nil; when it returns an error they are not applied. The
// caller must have entered (see Store.enter).
func (s *Store) write(ctx context.Context, savepoint bool, fn func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, savepoint: savepoint, done: make(chan struct{})}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
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

// startWriter starts the writer goroutine on conn and returns once the
// writer's statements are prepared. The goroutine holds the driver
// connection until reqs is closed and drained, then ends, closing
// writerDone.
func (s *Store) startWriter(conn *sql.Conn) error {
	ready := make(chan error, 1)
	go func() {
		defer close(s.writerDone)
		ran := false
		err := conn.Raw(func(dc any) error {
			ran = true
			w, err := newWriter(dc)
			if err != nil {
				ready <- err
				return nil
			}
			s.w = w
			ready <- nil
			s.run()
			return w.close()
		})
		if !ran {
			ready <- fmt.Errorf("writer connection: %w", err)
		}
		s.writerErr = err
	}()
	return <-ready
}

// run is the writer loop: it commits the queued requests in batches until
// reqs is closed and drained.
func (s *Store) run() {
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
		start := time.Now()
		s.commit(batch)
		s.busy.Add(int64(time.Since(start)))
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
	start := time.Now()
	err := w.exec(w.commit)
	took := time.Since(start)
	s.committing.Add(int64(took))
	if err != nil {
		s.abort(reqs, fmt.Errorf("commit: %w", err))
		return
	}
	s.ckpt.committed()
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(len(reqs), took)
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
// the current batch has queued. Only the writer goroutine uses it. It works
// on the driver connection directly (inside sql.Conn.Raw, for as long as the
// writer runs): database/sql's conversions and locking cost more than a
// third of a simple statement's time, and nothing else shares this
// connection.
type writer struct {
	dc  driver.Conn
	ctx context.Context

	begin, commit, rollback              *stmt
	savepoint, release, rollbackTo       *stmt
	insertTask, selectState, selectFence *stmt
	updateTask, updateAppend             *stmt
	heartbeat, rescueSelect              *stmt
	// insertEvents[n] inserts n event rows and claims[n] claims n tasks;
	// both are prepared on first use.
	insertEvents [maxEventRows + 1]*stmt
	claims       [maxClaim + 1]*stmt
	stmts        []*stmt

	// args and row are reused buffers for arguments and result rows.
	args []driver.NamedValue
	row  []driver.Value

	// events are the rows the batch's requests queued, written by
	// flushEvents just before the commit; refs are the queued slices whose
	// callers want the positions back.
	events []coderclaw.Event
	refs   []eventRef
	// wrote records that the running request executed a write statement.
	wrote bool
}

// stmt is a statement prepared on the writer's connection.
type stmt struct {
	ds    driver.Stmt
	query string
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

// newWriter prepares the writer's statements on the driver connection dc.
func newWriter(dc any) (*writer, error) {
	conn, ok := dc.(driver.Conn)
	if !ok {
		return nil, fmt.Errorf("driver connection %T is not a driver.Conn", dc)
	}
	w := &writer{dc: conn, ctx: context.Background()}
	for _, p := range []struct {
		stmt **stmt
		sql  string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT req"},
		{&w.release, "RELEASE req"},
		{&w.rollbackTo, "ROLLBACK TO req"},
		{&w.insertTask, insertTaskSQL},
		{&w.selectState, selectStateSQL},
		{&w.selectFence, "SELECT status, attempt, progress, last_seq FROM tasks WHERE id = ?"},
		{&w.updateTask, updateTaskSQL},
		{&w.updateAppend, "UPDATE tasks SET progress = ?, last_seq = ?, updated_at = ? WHERE id = ?"},
		{&w.heartbeat, heartbeatSQL},
		{&w.rescueSelect, rescueSelectSQL},
	} {
		st, err := w.prepare(p.sql)
		if err != nil {
			_ = w.close()
			return nil, err
		}
		*p.stmt = st
	}
	return w, nil
}

func (w *writer) prepare(query string) (*stmt, error) {
	pc, ok := w.dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot prepare with a context", w.dc)
	}
	ds, err := pc.PrepareContext(w.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, err)
	}
	if _, ok := ds.(driver.StmtExecContext); !ok {
		_ = ds.Close()
		return nil, fmt.Errorf("driver statement %T cannot execute with a context", ds)
	}
	if _, ok := ds.(driver.StmtQueryContext); !ok {
		_ = ds.Close()
		return nil, fmt.Errorf("driver statement %T cannot query with a context", ds)
	}
	st := &stmt{ds: ds, query: query}
	w.stmts = append(w.stmts, st)
	return st, nil
}

// bind converts args into the reused argument buffer.
func (w *writer) bind(args []any) []driver.NamedValue {
	w.args = w.args[:0]
	for i, a := range args {
		w.args = append(w.args, driver.NamedValue{Ordinal: i + 1, Value: driverValue(a)})
	}
	return w.args
}

// driverValue converts the argument types the writer uses.
func driverValue(a any) driver.Value {
	switch v := a.(type) {
	case int:
		return int64(v)
	case sql.NullString:
		if v.Valid {
			return v.String
		}
		return nil
	case sql.NullInt64:
		if v.Valid {
			return v.Int64
		}
		return nil
	case nil, int64, string, []byte:
		return v
	}
	panic(fmt.Sprintf("writer: argument of type %T", a)) // a bug; call recovers it
}

// exec runs a statement that returns no rows.
func (w *writer) exec(st *stmt, args ...any) error {
	_, err := w.execResult(st, w.bind(args))
	return err
}

func (w *writer) execResult(st *stmt, args []driver.NamedValue) (driver.Result, error) {
	res, err := st.ds.(driver.StmtExecContext).ExecContext(w.ctx, args)
	clear(args) // drop references to the callers' values
	return res, err
}

// write runs a write statement of the current request and returns the
// number of rows it changed.
func (w *writer) write(st *stmt, args ...any) (int64, error) {
	res, err := w.execResult(st, w.bind(args))
	if err != nil {
		return 0, err
	}
	w.wrote = true
	return res.RowsAffected()
}

// query runs a statement that returns rows; the caller closes them.
func (w *writer) query(st *stmt, args ...any) (driver.Rows, error) {
	rows, err := st.ds.(driver.StmtQueryContext).QueryContext(w.ctx, w.bind(args))
	clear(w.args)
	return rows, err
}

// next reads the next row of rows into the reused row buffer; it returns
// io.EOF after the last.
func (w *writer) next(rows driver.Rows) ([]driver.Value, error) {
	n := len(rows.Columns())
	if cap(w.row) < n {
		w.row = make([]driver.Value, n)
	}
	w.row = w.row[:n]
	clear(w.row)
	return w.row, rows.Next(w.row)
}

// queryRow runs a query that returns at most one row and returns it, or
// sql.ErrNoRows.
func (w *writer) queryRow(st *stmt, args ...any) ([]driver.Value, error) {
	rows, err := w.query(st, args...)
	if err != nil {
		return nil, err
	}
	row, err := w.next(rows)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.EOF) {
		return nil, sql.ErrNoRows
	}
	return row, err
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
			for _, v := range [...]driver.Value{e.TaskID, e.Seq, nanos(e.Time), string(e.Type),
				nullString(string(e.Status)), int64(e.Progress), nullString(e.Actor), nullString(e.Message), nullBytes(e.Data)} {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			}
		}
		w.args = args
		res, err := w.execResult(st, args)
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
func (w *writer) eventStmt(n int) (*stmt, error) {
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
	st, err := w.prepare(b.String())
	if err != nil {
		return nil, err
	}
	w.insertEvents[n] = st
	return st, nil
}

// claimStmt returns the statement claiming n tasks, 1 <= n <= maxClaim.
func (w *writer) claimStmt(n int) (*stmt, error) {
	if st := w.claims[n]; st != nil {
		return st, nil
	}
	st, err := w.prepare(claimQuery(n))
	if err != nil {
		return nil, err
	}
	w.claims[n] = st
	return st, nil
}

// close releases the prepared statements.
func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.ds.Close())
	}
	w.stmts = nil
	return errors.Join(errs...)
}

// nanos is the stored form of a time.
func nanos(t time.Time) int64 { return t.UnixNano() }

// Conversions of the values the driver returns.

func vString(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func vInt(v driver.Value) int64 {
	x, _ := v.(int64)
	return x
}

func vNullInt(v driver.Value) sql.NullInt64 {
	x, ok := v.(int64)
	return sql.NullInt64{Int64: x, Valid: ok}
}

func vNullString(v driver.Value) sql.NullString {
	if v == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: vString(v), Valid: true}
}
