package audittest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/coderclaw/coderclaw/internal/audit"
)

var (
	_ audit.Store    = (*Memory)(nil)
	_ audit.Anchorer = (*Memory)(nil)
)

// Memory is an audit.Store in memory, for the tests of code that records
// (the access seam, the engine, HTTP handlers); it passes Exercise except
// the tamper tests, which need a database. Its zero value is an empty log,
// ready to use, and it is safe for concurrent use.
type Memory struct {
	mu   sync.Mutex
	recs []audit.Record
}

// Append implements audit.Store.
func (m *Memory) Append(ctx context.Context, entries []audit.Entry) ([]audit.Record, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	norm := make([]audit.Entry, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() {
			e.Time = now
		}
		n, err := audit.Normalize(e)
		if err != nil {
			return nil, err
		}
		norm[i] = n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := audit.Chain(m.head(), norm)
	m.recs = append(m.recs, recs...)
	return slices.Clone(recs), nil
}

func (m *Memory) head() audit.Checkpoint {
	if len(m.recs) == 0 {
		return audit.Genesis()
	}
	last := m.recs[len(m.recs)-1]
	return audit.Checkpoint{Seq: last.Seq, Hash: last.Hash}
}

// Anchor implements audit.Anchorer.
func (m *Memory) Anchor(context.Context) (audit.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.head(), nil
}

// Scan implements audit.Store.
func (m *Memory) Scan(ctx context.Context, fromSeq int64, fn func(audit.Record) error) error {
	m.mu.Lock()
	recs := slices.Clone(m.recs)
	m.mu.Unlock()
	for _, r := range recs {
		if r.Seq < fromSeq {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Query implements audit.Store.
func (m *Memory) Query(_ context.Context, q audit.Query) (audit.RecordPage, error) {
	if err := q.Validate(); err != nil {
		return audit.RecordPage{}, err
	}
	before, _ := q.Before()
	size := q.PageSize()
	m.mu.Lock()
	defer m.mu.Unlock()
	page := audit.RecordPage{Records: []audit.Record{}}
	for i := len(m.recs) - 1; i >= 0; i-- {
		r := m.recs[i]
		if before > 0 && r.Seq >= before || !Matches(q, r) {
			continue
		}
		if len(page.Records) == size {
			page.NextCursor = audit.Cursor(page.Records[size-1].Seq)
			break
		}
		page.Records = append(page.Records, r)
	}
	return page, nil
}

// Matches reports whether r satisfies the filters of q (not its cursor or
// limit): the reference every backend's Query must agree with.
func Matches(q audit.Query, r audit.Record) bool {
	for _, f := range [...]struct{ want, got string }{
		{q.UserID, r.UserID}, {q.SessionID, r.SessionID}, {q.Action, r.Action},
		{q.ResourceType, r.ResourceType}, {q.ResourceID, r.ResourceID}, {q.Result, r.Result},
	} {
		if f.want != "" && f.want != f.got {
			return false
		}
	}
	if !q.Since.IsZero() && r.Time.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !r.Time.Before(q.Until) {
		return false
	}
	return true
}
