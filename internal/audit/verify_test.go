package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/coderclaw/coderclaw/internal/audit"
)

// sliceStore serves Verify a fixed list of records, as stored (tampered
// or not); with anchors it is an Anchorer returning them in turn (the last
// one repeatedly).
type sliceStore struct {
	recs    []audit.Record
	scanErr error
}

func (s *sliceStore) Append(context.Context, []audit.Entry) ([]audit.Record, error) {
	return nil, errors.New("read-only")
}

func (s *sliceStore) Query(context.Context, audit.Query) (audit.RecordPage, error) {
	return audit.RecordPage{}, errors.New("not implemented")
}

func (s *sliceStore) Scan(_ context.Context, from int64, fn func(audit.Record) error) error {
	for _, r := range s.recs {
		if r.Seq < from {
			continue
		}
		if err := fn(r); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
	}
	return s.scanErr
}

type anchoredStore struct {
	sliceStore
	anchors []audit.Checkpoint
	calls   int
}

func (s *anchoredStore) Anchor(context.Context) (audit.Checkpoint, error) {
	i := min(s.calls, len(s.anchors)-1)
	s.calls++
	return s.anchors[i], nil
}

// chain returns n chained records.
func chain(n int) []audit.Record {
	es := make([]audit.Entry, n)
	for i := range es {
		es[i] = audit.Entry{Time: testTime, Action: "task.read", UserID: "alice", ResourceType: "task",
			ResourceID: fmt.Sprint(i + 1), Result: audit.ResultAllowed}
	}
	return audit.Chain(audit.Genesis(), es)
}

func cp(r audit.Record) audit.Checkpoint { return audit.Checkpoint{Seq: r.Seq, Hash: r.Hash} }

func TestVerify(t *testing.T) {
	type want struct {
		seq  int64
		kind audit.BreakKind
		msg  string
	}
	for _, tc := range []struct {
		name    string
		tamper  func([]audit.Record) []audit.Record
		anchors func(orig []audit.Record) []audit.Checkpoint // nil: not an Anchorer
		trusted func(orig []audit.Record) []audit.Checkpoint
		want    *want // nil: intact
		records int64
	}{
		{name: "intact", records: 10},
		{name: "intact anchored", anchors: func(o []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(o[9])} }, records: 10},
		{name: "empty", tamper: func([]audit.Record) []audit.Record { return nil }},
		{name: "edited", tamper: func(r []audit.Record) []audit.Record { r[6].Reason = "x"; return r },
			want: &want{7, audit.BreakEdited, "record 7: hash mismatch (edited)"}, records: 6},
		{name: "hash not a hash", tamper: func(r []audit.Record) []audit.Record { r[2].Hash = "XYZ"; return r },
			want: &want{3, audit.BreakEdited, "record 3: hash mismatch (edited)"}},
		{name: "deleted middle", tamper: func(r []audit.Record) []audit.Record { return slices.Delete(r, 4, 5) },
			want: &want{6, audit.BreakGap, "seq gap after 4 (deleted)"}},
		{name: "deleted first", tamper: func(r []audit.Record) []audit.Record { return r[1:] },
			want: &want{2, audit.BreakGap, "seq gap after 0 (deleted)"}},
		{name: "first not from genesis", tamper: func(r []audit.Record) []audit.Record { r[0].PrevHash = r[1].Hash; return r },
			want: &want{1, audit.BreakLink, "record 1: prev_hash is not the genesis hash (deleted or reordered)"}},
		{name: "duplicate", tamper: func(r []audit.Record) []audit.Record { return slices.Insert(r, 3, r[2]) },
			want: &want{3, audit.BreakOrder, "record 3: out of order after record 3"}},
		{name: "swapped contents", tamper: func(r []audit.Record) []audit.Record {
			r[2], r[6] = r[6], r[2]
			r[2].Seq, r[6].Seq = 3, 7
			return r
		}, want: &want{3, audit.BreakLink, "record 3: prev_hash does not match record 2 (deleted or reordered)"}},
		{name: "tail deleted, no anchor", tamper: func(r []audit.Record) []audit.Record { return r[:8] }, records: 8},
		{name: "tail deleted", tamper: func(r []audit.Record) []audit.Record { return r[:8] },
			anchors: func(o []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(o[9])} },
			want:    &want{9, audit.BreakTruncated, "chain ends at record 8 but the anchor is at record 10 (tail deleted)"}},
		{name: "all deleted", tamper: func([]audit.Record) []audit.Record { return nil },
			anchors: func(o []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(o[9])} },
			want:    &want{1, audit.BreakTruncated, "chain ends at record 0 but the anchor is at record 10 (tail deleted)"}},
		{name: "tail rewritten under the anchor", tamper: func(r []audit.Record) []audit.Record {
			return append(r[:9], audit.Chain(cp(r[8]), []audit.Entry{{Time: testTime, Action: "forged", Result: audit.ResultOK}})...)
		}, anchors: func(o []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(o[9])} },
			want: &want{10, audit.BreakRewritten, "record 10: hash does not match the anchor (rewritten)"}},
		{name: "no anchor for records", anchors: func([]audit.Record) []audit.Checkpoint { return []audit.Checkpoint{audit.Genesis()} },
			want: &want{1, audit.BreakUnanchored, "record 1: beyond the anchor at record 0 (written around the store, or the anchor was rolled back)"}},
		{name: "appended during the walk", anchors: func(o []audit.Record) []audit.Checkpoint {
			// Read before the walk at 8, after it at 10: records 9 and 10
			// were appended meanwhile.
			return []audit.Checkpoint{cp(o[7]), cp(o[9])}
		}, records: 10},
		{name: "trusted checkpoints hold", trusted: func(o []audit.Record) []audit.Checkpoint {
			return []audit.Checkpoint{cp(o[2]), cp(o[9]), audit.Genesis()}
		}, records: 10},
		{name: "rewritten from a trusted checkpoint", tamper: func(r []audit.Record) []audit.Record {
			es := make([]audit.Entry, 0, 7)
			for _, x := range r[3:] {
				x.Reason = "forged"
				es = append(es, x.Entry())
			}
			return append(r[:3], audit.Chain(cp(r[2]), es)...)
		}, trusted: func(o []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(o[6])} },
			want: &want{7, audit.BreakRewritten, "record 7: hash does not match the trusted checkpoint (rewritten)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := chain(10)
			recs := slices.Clone(orig)
			if tc.tamper != nil {
				recs = tc.tamper(recs)
			}
			var s audit.Store = &sliceStore{recs: recs}
			if tc.anchors != nil {
				s = &anchoredStore{sliceStore: sliceStore{recs: recs}, anchors: tc.anchors(orig)}
			}
			var trusted []audit.Checkpoint
			if tc.trusted != nil {
				trusted = tc.trusted(orig)
			}
			rep, err := audit.Verify(t.Context(), s, trusted...)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tc.want == nil {
				if !rep.OK() || rep.Err() != nil {
					t.Fatalf("Verify of an intact chain: %v", rep.Break)
				}
				if rep.Records != tc.records {
					t.Errorf("walked %d records, want %d", rep.Records, tc.records)
				}
				return
			}
			if rep.OK() {
				t.Fatalf("Verify found the chain intact, want %q", tc.want.msg)
			}
			b := rep.Break
			if b.Seq != tc.want.seq || b.Kind != tc.want.kind || b.Message != tc.want.msg {
				t.Errorf("break %+v, want %+v", *b, *tc.want)
			}
			if !errors.Is(rep.Err(), audit.ErrTampered) {
				t.Errorf("Err() = %v, want it to match ErrTampered", rep.Err())
			}
			if tc.records != 0 && rep.Records != tc.records {
				t.Errorf("walked %d records before the break, want %d", rep.Records, tc.records)
			}
		})
	}
}

func TestVerifyScanError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := audit.Verify(t.Context(), &sliceStore{recs: chain(3), scanErr: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Verify of a failing store: %v, want its error", err)
	}
}
