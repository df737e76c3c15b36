package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/store"
)

var (
	_ audit.Store    = (*AuditLog)(nil)
	_ audit.Anchorer = (*AuditLog)(nil)
)

// AuditLog is the audit.Store (and audit.Anchorer) of a Store: its records
// live in the same database file (tables audit_log and audit_anchor), and
// its appends are requests to the Store's writer like every other write,
// committed in the same group-commit batches. A separate type because
// store.Store already has an Append. It is safe for concurrent use and
// valid until the Store is closed; its methods then fail with
// store.ErrClosed.
//
// Append reads the head (the anchor, checked against the newest record)
// inside the batch's transaction, chains the records to it, and writes them
// with multi-row INSERTs and the new anchor before the commit: a request
// reads the head once, however many entries it carries, and since only the
// writer appends, concurrent appenders cannot fork the chain. If the newest
// record and the anchor disagree (records deleted or added behind the
// store's back), Append refuses with an error matching audit.ErrTampered
// rather than build on a damaged chain; the refusal fails that request
// alone. Query, Scan and Anchor read from the read pool.
type AuditLog struct {
	s *Store
}

// AuditLog returns the store's audit log.
func (s *Store) AuditLog() *AuditLog { return &AuditLog{s: s} }

const auditColumns = "seq, time, action, user_id, session_id, device_id, resource_type, resource_id, result, reason, prev_hash, hash"

// auditHeadSQL reads, in one row, the newest record's seq, the anchor and
// the hash of the record the anchor names: three primary key lookups.
const auditHeadSQL = `SELECT (SELECT max(seq) FROM audit_log), a.seq, a.hash, l.hash
	FROM (SELECT 1) LEFT JOIN audit_anchor a ON a.id = 1 LEFT JOIN audit_log l ON l.seq = a.seq`

const auditAnchorSQL = `INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)
	ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`

// maxAuditRows bounds the rows of one INSERT (12 parameters each). An
// append of n records uses INSERTs of maxAuditRows rows, then at most one of
// each smaller power of two, so the writer prepares at most eight audit
// statements.
const maxAuditRows = 64

// auditInsertSQL returns the INSERT of n records.
func auditInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_log (" + auditColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// auditInserts are the INSERTs of 1, 2, 4, ... maxAuditRows records,
// indexed by log2 of the size; built once, never changed.
var auditInserts = func() (qs [7]string) {
	for i := range qs {
		qs[i] = auditInsertSQL(1 << i)
	}
	return qs
}()

// Append implements audit.Store.
func (a *AuditLog) Append(ctx context.Context, entries []audit.Entry) ([]audit.Record, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	// Normalizing (redaction) is the costly part of an entry: it runs here,
	// in the caller's goroutine, not on the writer.
	now := time.Now()
	norm := make([]audit.Entry, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() {
			e.Time = now
		}
		n, err := audit.Normalize(e)
		if err != nil {
			return nil, fmt.Errorf("append audit records: entry %d: %w", i, err)
		}
		norm[i] = n
	}
	s := a.s
	if !s.enter() {
		return nil, fmt.Errorf("append audit records: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	var recs []audit.Record
	err := s.write(ctx, withSavepoint, func(w *writer) error {
		head, err := w.auditHead()
		if err != nil {
			return err
		}
		recs = audit.Chain(head, norm)
		return w.insertAudit(recs)
	})
	if err != nil {
		return nil, fmt.Errorf("append audit records: %w", err)
	}
	return recs, nil
}

// auditStmt returns the writer's statement for query, preparing it on
// first use. The writer keeps every statement it prepares in w.stmts; the
// audit statements are few (the head, the anchor and the INSERTs), so a
// scan finds them without a field of their own in the writer.
func (w *writer) auditStmt(query string) (*stmt, error) {
	for _, st := range w.stmts {
		if st.query == query {
			return st, nil
		}
	}
	return w.prepare(query)
}

// auditHead returns the chain's head, checking that the anchor names the
// newest record; a disagreement is a refusal matching audit.ErrTampered.
func (w *writer) auditHead() (audit.Checkpoint, error) {
	st, err := w.auditStmt(auditHeadSQL)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	row, err := w.queryRow(st)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("read audit head: %w", err)
	}
	newest, anchorSeq := vNullInt(row[0]), vNullInt(row[1])
	anchorHash, atHash := vString(row[2]), vNullString(row[3])
	switch {
	case !newest.Valid && !anchorSeq.Valid:
		return audit.Genesis(), nil
	case !anchorSeq.Valid:
		return audit.Checkpoint{}, tampered("the log has records up to %d but no anchor", newest.Int64)
	case !newest.Valid || newest.Int64 != anchorSeq.Int64:
		return audit.Checkpoint{}, tampered("the newest record is %d but the anchor is at record %d", newest.Int64, anchorSeq.Int64)
	case !atHash.Valid || atHash.String != anchorHash:
		return audit.Checkpoint{}, tampered("record %d does not match the anchor", anchorSeq.Int64)
	}
	return audit.Checkpoint{Seq: anchorSeq.Int64, Hash: anchorHash}, nil
}

// tampered returns the refusal of an append to a damaged chain: it matches
// audit.ErrTampered, and its *coderclaw.Error makes the writer roll back
// this request alone.
func tampered(format string, args ...any) error {
	return fmt.Errorf("%w: %w", audit.ErrTampered,
		coderclaw.Errorf(coderclaw.CodeInternal, "refusing to append: "+format+" (run coderclaw audit verify)", args...))
}

// insertAudit writes the records and moves the anchor to the last.
func (w *writer) insertAudit(recs []audit.Record) error {
	for rest := recs; len(rest) > 0; {
		k := 6 // log2(maxAuditRows)
		for 1<<k > len(rest) {
			k--
		}
		n := 1 << k
		st, err := w.auditStmt(auditInserts[k])
		if err != nil {
			return err
		}
		args := w.args[:0]
		for i := range rest[:n] {
			r := &rest[i]
			for _, v := range [...]driver.Value{r.Seq, nanos(r.Time), r.Action, nullString(r.UserID), nullString(r.SessionID),
				nullString(r.DeviceID), nullString(r.ResourceType), nullString(r.ResourceID), r.Result, nullString(r.Reason),
				r.PrevHash, r.Hash} {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			}
		}
		w.args = args
		if _, err := w.execResult(st, args); err != nil {
			return fmt.Errorf("insert audit records: %w", err)
		}
		w.wrote = true
		rest = rest[n:]
	}
	st, err := w.auditStmt(auditAnchorSQL)
	if err != nil {
		return err
	}
	last := recs[len(recs)-1]
	if _, err := w.write(st, last.Seq, last.Hash); err != nil {
		return fmt.Errorf("write audit anchor: %w", err)
	}
	return nil
}

// Anchor implements audit.Anchorer.
func (a *AuditLog) Anchor(ctx context.Context) (audit.Checkpoint, error) {
	s := a.s
	if !s.enter() {
		return audit.Checkpoint{}, fmt.Errorf("read audit anchor: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	var cp audit.Checkpoint
	err := s.readDB.QueryRowContext(ctx, "SELECT seq, hash FROM audit_anchor WHERE id = 1").Scan(&cp.Seq, &cp.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Genesis(), nil
	}
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("read audit anchor: %w", err)
	}
	return cp, nil
}

// scanPage is the number of records Scan reads per query; between pages
// it holds no connection, so fn may take its time.
const scanPage = 512

// Scan implements audit.Store.
func (a *AuditLog) Scan(ctx context.Context, fromSeq int64, fn func(audit.Record) error) error {
	for {
		recs, err := a.read(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?", fromSeq, scanPage)
		if err != nil {
			return fmt.Errorf("scan audit log from %d: %w", fromSeq, err)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return fmt.Errorf("scan audit log: record %d: %w", r.Seq, err)
			}
		}
		if len(recs) < scanPage {
			return nil
		}
		fromSeq = recs[len(recs)-1].Seq + 1
	}
}

// Query implements audit.Store.
func (a *AuditLog) Query(ctx context.Context, q audit.Query) (audit.RecordPage, error) {
	if err := q.Validate(); err != nil {
		return audit.RecordPage{}, fmt.Errorf("query audit log: %w", err)
	}
	size := q.PageSize()
	query, args := auditQuery(q, size+1)
	recs, err := a.read(ctx, query, args...)
	if err != nil {
		return audit.RecordPage{}, fmt.Errorf("query audit log: %w", err)
	}
	page := audit.RecordPage{Records: recs}
	if len(recs) > size {
		page.Records = recs[:size]
		page.NextCursor = audit.Cursor(recs[size-1].Seq)
	}
	return page, nil
}

// auditQuery returns the query selecting q's records, newest first, up to
// limit. q is valid.
func auditQuery(q audit.Query, limit int) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a any) {
		where = append(where, cond)
		args = append(args, a)
	}
	for _, f := range []struct{ col, val string }{
		{"user_id", q.UserID}, {"session_id", q.SessionID}, {"action", q.Action},
		{"resource_type", q.ResourceType}, {"resource_id", q.ResourceID}, {"result", q.Result},
	} {
		if f.val != "" {
			add(f.col+" = ?", f.val)
		}
	}
	if !q.Since.IsZero() {
		add("time >= ?", nanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("time < ?", nanos(q.Until))
	}
	if before, _ := q.Before(); before > 0 {
		add("seq < ?", before)
	}
	query := "SELECT " + auditColumns + " FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return query + " ORDER BY seq DESC LIMIT ?", append(args, limit)
}

// read runs a query of audit records on the read pool.
func (a *AuditLog) read(ctx context.Context, query string, args ...any) ([]audit.Record, error) {
	s := a.s
	if !s.enter() {
		return nil, store.ErrClosed
	}
	defer s.ops.Done()
	rs, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	recs := []audit.Record{}
	for rs.Next() {
		var (
			r                      audit.Record
			t                      int64
			user, session, device  sql.NullString
			resType, resID, reason sql.NullString
		)
		if err := rs.Scan(&r.Seq, &t, &r.Action, &user, &session, &device, &resType, &resID, &r.Result, &reason, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, t).UTC()
		r.UserID, r.SessionID, r.DeviceID = user.String, session.String, device.String
		r.ResourceType, r.ResourceID, r.Reason = resType.String, resID.String, reason.String
		recs = append(recs, r)
	}
	return recs, rs.Err()
}
