package audit

import (
	"context"
	"errors"
	"fmt"
)

// BreakKind says how a chain is broken.
type BreakKind string

// The kinds of Break.
const (
	// BreakEdited: a record's content does not match its hash.
	BreakEdited BreakKind = "edited"
	// BreakLink: a record's PrevHash is not the hash of the record before
	// it: records were deleted and renumbered, reordered, or the record
	// before was rewritten with a new hash.
	BreakLink BreakKind = "link"
	// BreakGap: Seq skips numbers: records were deleted.
	BreakGap BreakKind = "gap"
	// BreakOrder: the store returned records out of Seq order or with a
	// repeated Seq.
	BreakOrder BreakKind = "order"
	// BreakTruncated: the chain ends before the anchor or a trusted
	// checkpoint: the newest records were deleted.
	BreakTruncated BreakKind = "truncated"
	// BreakRewritten: the record at the anchor or at a trusted checkpoint
	// has another hash: the chain was rewritten from there on.
	BreakRewritten BreakKind = "rewritten"
	// BreakUnanchored: records follow the anchor: written around the store
	// or the anchor was rolled back.
	BreakUnanchored BreakKind = "unanchored"
)

// Break is the first broken link Verify found. It is an error that
// matches ErrTampered.
type Break struct {
	// Seq is the record at which the chain breaks: the record edited, the
	// one whose PrevHash or Seq does not follow, or, for a truncation,
	// the first record missing.
	Seq     int64     `json:"seq"`
	Kind    BreakKind `json:"kind"`
	Message string    `json:"message"`
}

func (b *Break) Error() string { return b.Message }

// Unwrap lets errors.Is(b, ErrTampered) hold.
func (b *Break) Unwrap() error { return ErrTampered }

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// Records is the number of records walked (up to the break).
	Records int64 `json:"records"`
	// Head is the last record walked ({0, GenesisHash} for an empty log).
	// Kept outside the database, it is a checkpoint a later Verify can be
	// given.
	Head Checkpoint `json:"head"`
	// Anchor is the store's anchor, when the store is an Anchorer.
	Anchor *Checkpoint `json:"anchor,omitempty"`
	// Checkpoints is the number of trusted checkpoints compared.
	Checkpoints int `json:"checkpoints"`
	// Break is the first broken link; nil when the chain is intact.
	Break *Break `json:"break,omitempty"`
}

// OK reports whether the chain is intact.
func (r VerifyReport) OK() bool { return r.Break == nil }

// Err returns the Break, or nil when the chain is intact.
func (r VerifyReport) Err() error {
	if r.Break == nil {
		return nil
	}
	return r.Break
}

// errStop ends a scan at the first break.
var errStop = errors.New("stop")

// Verify walks s's chain from its first record and reports the first
// broken link:
//
//	record 42: hash mismatch (edited)
//	record 42: prev_hash does not match record 41 (deleted or reordered)
//	seq gap after 41 (deleted)
//
// A record's Seq is checked first, then its link to the record before, then
// its own hash, so a moved record reads as reordered and an edited one as
// edited. When s is an Anchorer, the chain must end exactly at its anchor
// (read before the walk, and again after it, so that records appended
// meanwhile are not taken for tampering); this is what detects deleted
// newest records. Each trusted checkpoint (a Head saved by an earlier
// Verify, kept outside the database) must name a record of the chain with
// that hash; this detects a chain rewritten with fresh hashes and anchor.
// The chain's own damage is reported in the report, never as the error:
// Verify returns an error only when it cannot read s.
func Verify(ctx context.Context, s Store, trusted ...Checkpoint) (VerifyReport, error) {
	var rep VerifyReport
	anchorer, _ := s.(Anchorer)
	var anchor Checkpoint
	if anchorer != nil {
		a, err := anchorer.Anchor(ctx)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: read anchor: %w", err)
		}
		anchor = a
		rep.Anchor = &anchor
	}
	// want maps the seq of each checkpoint to hold to its hash; the anchor
	// is one of them.
	want := make(map[int64]Checkpoint, len(trusted)+1)
	for _, cp := range trusted {
		if cp.Seq > 0 {
			want[cp.Seq] = cp
		}
	}
	rep.Checkpoints = len(want)
	if anchor.Seq > 0 {
		if _, dup := want[anchor.Seq]; !dup {
			want[anchor.Seq] = anchor
		}
	}

	prev := Genesis()
	brk := func(seq int64, kind BreakKind, format string, args ...any) error {
		rep.Break = &Break{Seq: seq, Kind: kind, Message: fmt.Sprintf(format, args...)}
		return errStop
	}
	err := s.Scan(ctx, 1, func(r Record) error {
		switch {
		case r.Seq <= prev.Seq:
			return brk(r.Seq, BreakOrder, "record %d: out of order after record %d", r.Seq, prev.Seq)
		case r.Seq > prev.Seq+1:
			return brk(r.Seq, BreakGap, "seq gap after %d (deleted)", prev.Seq)
		case r.PrevHash != prev.Hash && prev.Seq == 0:
			return brk(r.Seq, BreakLink, "record %d: prev_hash is not the genesis hash (deleted or reordered)", r.Seq)
		case r.PrevHash != prev.Hash:
			return brk(r.Seq, BreakLink, "record %d: prev_hash does not match record %d (deleted or reordered)", r.Seq, prev.Seq)
		case !validHash(r.Hash) || r.ComputeHash() != r.Hash:
			return brk(r.Seq, BreakEdited, "record %d: hash mismatch (edited)", r.Seq)
		}
		if cp, ok := want[r.Seq]; ok && cp.Hash != r.Hash {
			what := "the trusted checkpoint"
			if cp == anchor {
				what = "the anchor"
			}
			return brk(r.Seq, BreakRewritten, "record %d: hash does not match %s (rewritten)", r.Seq, what)
		}
		prev = Checkpoint{Seq: r.Seq, Hash: r.Hash}
		rep.Records++
		return nil
	})
	rep.Head = prev
	if err != nil && !errors.Is(err, errStop) {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	if rep.Break != nil {
		return rep, nil
	}

	// The chain is intact as far as it goes; it must reach the anchor and
	// every checkpoint.
	if anchorer != nil && anchor.Seq > prev.Seq {
		_ = brk(prev.Seq+1, BreakTruncated, "chain ends at record %d but the anchor is at record %d (tail deleted)", prev.Seq, anchor.Seq)
		return rep, nil
	}
	for _, cp := range trusted {
		if cp.Seq > prev.Seq {
			_ = brk(prev.Seq+1, BreakTruncated, "chain ends at record %d before the trusted checkpoint at record %d (tail deleted)", prev.Seq, cp.Seq)
			return rep, nil
		}
	}
	if anchorer != nil && prev.Seq > anchor.Seq {
		// Appends may have moved the anchor since it was read; only what
		// lies beyond its current position is unanchored.
		now, err := anchorer.Anchor(ctx)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: read anchor: %w", err)
		}
		if prev.Seq > now.Seq {
			_ = brk(now.Seq+1, BreakUnanchored, "record %d: beyond the anchor at record %d (written around the store, or the anchor was rolled back)", now.Seq+1, now.Seq)
		}
	}
	return rep, nil
}
