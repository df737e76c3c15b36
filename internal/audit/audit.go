// Package audit is CoderClaw's tamper-evident audit log: every security
// decision (allowed or denied) and every significant action is appended as
// a Record to one hash chain, which Verify walks to detect edits, deletions,
// reorderings and truncation, and which Store.Query serves by user,
// session, action, resource, result and time.
//
// # The chain
//
// Records are numbered by Seq from 1 without gaps. Each record carries the
// hash of the one before it (PrevHash; the first record's is GenesisHash)
// and its own Hash: the lowercase hex SHA-256 of the canonical encoding of
// every other field, PrevHash included (Record.Canonical specifies the
// bytes). Seq is the order of the log; Time is when the caller saw the
// event, so two records close in time may be out of time order. Editing a record breaks its hash; deleting or moving one
// breaks the sequence or the next record's PrevHash. Deleting the newest
// records leaves a shorter chain that is intact in itself, so a store that
// implements Anchorer keeps the head (the last Seq and Hash) apart from the
// records, written in the same transaction, and Verify compares the two.
//
// A hash chain without a key proves integrity only against someone who
// does not rewrite every later record and the anchor as well. Against that,
// keep checkpoints (VerifyReport.Head) outside the database (a log
// shipper, a ticket, another machine) and pass them to Verify.
//
// # Writing
//
// Backends implement Store. Append normalizes every entry (Normalize:
// credential redaction, valid UTF-8, bounded lengths, microsecond times),
// then, in one transaction, reads the head, chains the records to it and
// writes them with the new head, so concurrent appenders never fork the
// chain. The Logger is what request paths call: it redacts and checks an
// entry in the caller's goroutine and hands it to one flusher that appends
// everything queued in one Append (group commit), so a burst of decisions
// costs one transaction.
//
// # Contract
//
// Every Store method is safe for concurrent use. Invalid input (an entry
// without action, an unknown result, a bad query or cursor) is a
// *coderclaw.Error with code invalid. A store that finds its records and
// its anchor disagree refuses to append with an error matching
// ErrTampered, rather than extend a damaged chain. Verify reports a broken
// chain in its VerifyReport (whose Err matches ErrTampered), and returns an
// error only when it cannot read the store. The package holds no mutable
// state of its own; a Logger's zero value is not usable (use New).
package audit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/coderclaw/coderclaw"
)

// The results of a record.
const (
	// ResultAllowed and ResultDenied are authorization decisions.
	ResultAllowed = "allowed"
	ResultDenied  = "denied"
	// ResultOK and ResultError are the outcomes of an action.
	ResultOK    = "ok"
	ResultError = "error"
)

// ErrTampered is matched (errors.Is) by a Break and by a store's refusal
// to append to a chain whose records and anchor disagree.
var ErrTampered = errors.New("audit log tampered")

// Entry is what a caller records: an action of a principal on a resource
// and its result. A zero Time means "now" (the Logger's clock, or the
// store's). Action and Result are required; every other field may be
// empty. Identifiers must not be secrets themselves: a session id that is
// also a bearer credential must be replaced by a non-secret id (or a hash)
// before it is audited.
type Entry struct {
	Time time.Time `json:"time"`
	// Action names what was attempted, "<resource>.<verb>" by convention:
	// task.submit, task.cancel, skill.execute, config.write, auth.login.
	Action       string `json:"action"`
	UserID       string `json:"user_id,omitempty"`
	SessionID    string `json:"session_id,omitempty"`
	DeviceID     string `json:"device_id,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
	// Result is one of ResultAllowed, ResultDenied, ResultOK, ResultError.
	Result string `json:"result"`
	// Reason says why (the policy that denied, the error that failed).
	Reason string `json:"reason,omitempty"`
}

// Record is an Entry as stored: numbered and chained.
type Record struct {
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	Action       string    `json:"action"`
	UserID       string    `json:"user_id,omitempty"`
	SessionID    string    `json:"session_id,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	Result       string    `json:"result"`
	Reason       string    `json:"reason,omitempty"`
	PrevHash     string    `json:"prev_hash"`
	Hash         string    `json:"hash"`
}

// Entry returns the entry the record was made of.
func (r Record) Entry() Entry {
	return Entry{Time: r.Time, Action: r.Action, UserID: r.UserID, SessionID: r.SessionID, DeviceID: r.DeviceID,
		ResourceType: r.ResourceType, ResourceID: r.ResourceID, Result: r.Result, Reason: r.Reason}
}

// Checkpoint names a point of the chain: a record's Seq and Hash. The
// checkpoint of the empty chain is {0, GenesisHash}.
type Checkpoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Store is an append-only, hash-chained audit log. Backends must pass
// audittest.Exercise.
type Store interface {
	// Append normalizes the entries (see Normalize; a zero Time becomes
	// the store's now), chains them after the current head and writes
	// them and the new head in one transaction, in order. It returns the
	// stored records. Either every entry is written or none is: one
	// invalid entry fails the call with a *coderclaw.Error (code invalid).
	// An empty call writes nothing.
	Append(ctx context.Context, entries []Entry) ([]Record, error)
	// Query returns one page of the records q selects, newest (highest
	// Seq) first.
	Query(ctx context.Context, q Query) (RecordPage, error)
	// Scan calls fn with every record whose Seq is at least fromSeq, in
	// Seq order, as stored (nothing is checked or repaired); records
	// appended while Scan runs may or may not be included. An error from
	// fn stops the scan and is returned wrapped.
	Scan(ctx context.Context, fromSeq int64, fn func(Record) error) error
}

// Anchorer is a Store that keeps the head of its chain apart from the
// records, updated in the same transaction as every Append, so that Verify
// can tell a truncated chain from an intact one.
type Anchorer interface {
	// Anchor returns the stored head: {0, GenesisHash} before the first
	// Append.
	Anchor(ctx context.Context) (Checkpoint, error)
}

// Page sizes of Query.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Query selects records. Zero fields match everything; string fields match
// exactly. Results are ordered newest (highest Seq) first and paged by
// Cursor, the NextCursor of the previous page.
type Query struct {
	UserID       string `json:"user_id,omitempty"`
	SessionID    string `json:"session_id,omitempty"`
	Action       string `json:"action,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
	Result       string `json:"result,omitempty"`
	// Since is inclusive, Until exclusive.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Limit is the page size: zero means DefaultPageSize, at most
	// MaxPageSize.
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Validate checks the query and returns a *coderclaw.Error (code invalid)
// naming the bad field.
func (q Query) Validate() error {
	if q.Limit < 0 || q.Limit > MaxPageSize {
		return coderclaw.Errorf(coderclaw.CodeInvalid, "limit: %d is outside [0, %d]", q.Limit, MaxPageSize)
	}
	if q.Result != "" && !validResult(q.Result) {
		return coderclaw.Errorf(coderclaw.CodeInvalid, "result: %q: want allowed, denied, ok or error", q.Result)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return coderclaw.Errorf(coderclaw.CodeInvalid, "until: %s is before since %s", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))
	}
	if _, err := q.Before(); err != nil {
		return err
	}
	return nil
}

// PageSize returns the effective page size of the query.
func (q Query) PageSize() int {
	if q.Limit == 0 {
		return DefaultPageSize
	}
	return q.Limit
}

// Before returns the Seq the page must stay below: the cursor's, or 0 (no
// bound) without one. A cursor that is not one of ours is invalid.
func (q Query) Before() (int64, error) {
	if q.Cursor == "" {
		return 0, nil
	}
	seq, err := strconv.ParseInt(q.Cursor, 10, 64)
	if err != nil || seq < 1 {
		return 0, coderclaw.Errorf(coderclaw.CodeInvalid, "cursor: %q is not a cursor of this audit log", q.Cursor)
	}
	return seq, nil
}

// RecordPage is one page of records. NextCursor is empty on the last page.
type RecordPage struct {
	Records    []Record `json:"records"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// Cursor returns the cursor continuing after (below) the record with seq;
// backends put Cursor(last.Seq) in RecordPage.NextCursor.
func Cursor(seq int64) string { return strconv.FormatInt(seq, 10) }

func validResult(r string) bool {
	switch r {
	case ResultAllowed, ResultDenied, ResultOK, ResultError:
		return true
	}
	return false
}
