// Package audittest is the conformance suite of audit.Store, and an
// in-memory store (Memory) for the tests of code that records. Every
// backend runs the suite from its own tests:
//
//	func TestAuditExercise(t *testing.T) {
//		audittest.Exercise(t, func(t *testing.T) audittest.Harness {
//			... a new, empty store, closed in t.Cleanup ...
//		})
//	}
//
// Each subtest gets a new, empty store and runs in parallel with the
// others. Beyond the doc comments of audit.Store, the suite pins down what
// callers rely on: records are numbered 1, 2, 3, ... and chained as
// audit.Chain does, under any number of concurrent appenders; an Append is
// all or nothing; entries are normalized (credentials never reach a
// record); Query agrees with Matches, newest first, and its cursors visit
// every record once; Verify accepts an intact chain. With Harness.Exec the
// suite also tampers with the database behind the store's back, as
// someone with access to its file or server would, and checks that Verify
// names each kind of damage; without Exec those tests are skipped with a
// log line.
package audittest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/audit"
)

// Harness is one subtest's store.
type Harness struct {
	// Store is a new, empty store; the test's cleanup closes it.
	Store audit.Store
	// Exec, when set, runs one SQL statement on the store's database
	// directly, around the store. The tamper tests use it on the tables
	// of a SQL backend: audit_log, one row per record with the columns of
	// audit.Record (seq, time, action, user_id, session_id, device_id,
	// resource_type, resource_id, result, reason, prev_hash, hash; time
	// in unix nanoseconds, empty strings as NULL or ''), and, for an
	// audit.Anchorer, audit_anchor (id = 1, seq, hash). Statements
	// carry their values as literals, so they run unchanged on SQLite and
	// PostgreSQL.
	Exec func(ctx context.Context, query string) error
}

// epoch is where every test's times start; times advance in whole
// milliseconds.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Exercise runs the conformance suite against the stores newHarness makes.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"AppendChains", testAppendChains},
		{"AppendEmpty", testAppendEmpty},
		{"AppendStampsTime", testAppendStampsTime},
		{"AppendAllOrNothing", testAppendAllOrNothing},
		{"AppendCanceled", testAppendCanceled},
		{"AppendNormalizes", testAppendNormalizes},
		{"NoCredentialIsWritten", testNoCredentialIsWritten},
		{"ConcurrentAppenders", testConcurrentAppenders},
		{"Scan", testScan},
		{"Query", testQuery},
		{"QueryInvalid", testQueryInvalid},
		{"VerifyEmpty", testVerifyEmpty},
		{"VerifyCheckpoints", testVerifyCheckpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t))
		})
	}
	for _, tc := range tamperCases {
		t.Run("Tamper"+tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h.Exec == nil {
				t.Skip("the backend offers no Exec: tamper tests skipped")
			}
			testTamper(t, h, tc)
		})
	}
}

// entry returns a valid entry at epoch + i ms.
func entry(i int, mods ...func(*audit.Entry)) audit.Entry {
	e := audit.Entry{
		Time: epoch.Add(time.Duration(i) * time.Millisecond), Action: "task.submit",
		UserID: "alice", SessionID: "sess-1", DeviceID: "laptop", ResourceType: "task",
		ResourceID: fmt.Sprintf("task-%d", i), Result: audit.ResultAllowed, Reason: fmt.Sprintf("entry %d", i),
	}
	for _, m := range mods {
		m(&e)
	}
	return e
}

// appendN appends n entries, one call each, numbered from first.
func appendN(t *testing.T, s audit.Store, first, n int) []audit.Record {
	t.Helper()
	var recs []audit.Record
	for i := range n {
		got, err := s.Append(t.Context(), []audit.Entry{entry(first + i)})
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		recs = append(recs, got...)
	}
	return recs
}

// all returns every record of s, by Scan.
func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	var recs []audit.Record
	if err := s.Scan(t.Context(), 1, func(r audit.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return recs
}

// mustVerify runs Verify and fails the test unless the chain is intact.
func mustVerify(t *testing.T, s audit.Store, trusted ...audit.Checkpoint) audit.VerifyReport {
	t.Helper()
	rep, err := audit.Verify(t.Context(), s, trusted...)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify of an intact chain: %v", rep.Break)
	}
	return rep
}

// wantInvalid fails unless err is a *coderclaw.Error of code invalid.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInvalid {
		t.Errorf("%s: %v, want a *coderclaw.Error with code invalid", what, err)
	}
}

// checkChain fails unless recs are numbered from first and each links to
// the one before and carries its own hash.
func checkChain(t *testing.T, recs []audit.Record, prev audit.Checkpoint) {
	t.Helper()
	for i, r := range recs {
		if r.Seq != prev.Seq+1 {
			t.Fatalf("record %d: seq %d, want %d", i, r.Seq, prev.Seq+1)
		}
		if r.PrevHash != prev.Hash {
			t.Fatalf("record %d: prev_hash %s, want %s", r.Seq, r.PrevHash, prev.Hash)
		}
		if h := r.ComputeHash(); r.Hash != h {
			t.Fatalf("record %d: hash %s, want %s", r.Seq, r.Hash, h)
		}
		prev = audit.Checkpoint{Seq: r.Seq, Hash: r.Hash}
	}
}

func testAppendChains(t *testing.T, h Harness) {
	s := h.Store
	in := []audit.Entry{entry(1), entry(2, func(e *audit.Entry) { e.Result = audit.ResultDenied; e.Reason = "role readonly lacks task:submit" }), entry(3)}
	got, err := s.Append(t.Context(), in)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Append returned %d records, want 3", len(got))
	}
	checkChain(t, got, audit.Genesis())
	for i, r := range got {
		want, _ := audit.Normalize(in[i])
		if r.Entry() != want {
			t.Errorf("record %d: entry %+v, want %+v", r.Seq, r.Entry(), want)
		}
	}
	more, err := s.Append(t.Context(), []audit.Entry{entry(4), entry(5)})
	if err != nil {
		t.Fatalf("second Append: %v", err)
	}
	checkChain(t, more, audit.Checkpoint{Seq: 3, Hash: got[2].Hash})

	stored := all(t, s)
	if want := append(got, more...); !slices.EqualFunc(stored, want, recordEqual) {
		t.Errorf("Scan returned\n%+v\nwant what Append returned\n%+v", stored, want)
	}
	rep := mustVerify(t, s)
	head := audit.Checkpoint{Seq: 5, Hash: more[1].Hash}
	if rep.Records != 5 || rep.Head != head {
		t.Errorf("Verify: %d records, head %+v; want 5, %+v", rep.Records, rep.Head, head)
	}
	if a, ok := s.(audit.Anchorer); ok {
		cp, err := a.Anchor(t.Context())
		if err != nil || cp != head {
			t.Errorf("Anchor = %+v, %v; want %+v", cp, err, head)
		}
		if rep.Anchor == nil || *rep.Anchor != head {
			t.Errorf("VerifyReport.Anchor = %v, want %+v", rep.Anchor, head)
		}
	} else {
		t.Log("the store is not an audit.Anchorer: truncation of the newest records goes undetected")
	}
}

// recordEqual compares records, times by instant.
func recordEqual(a, b audit.Record) bool {
	ta, tb := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func testAppendEmpty(t *testing.T, h Harness) {
	for _, in := range [][]audit.Entry{nil, {}} {
		got, err := h.Store.Append(t.Context(), in)
		if err != nil || len(got) != 0 {
			t.Errorf("Append(%v) = %v, %v; want nothing", in, got, err)
		}
	}
	if recs := all(t, h.Store); len(recs) != 0 {
		t.Errorf("after empty appends the log has %d records", len(recs))
	}
}

func testAppendStampsTime(t *testing.T, h Harness) {
	before := time.Now().Add(-time.Second)
	got, err := h.Store.Append(t.Context(), []audit.Entry{entry(1, func(e *audit.Entry) { e.Time = time.Time{} })})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	tm := got[0].Time
	if tm.Before(before) || tm.After(time.Now().Add(time.Second)) || tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
		t.Errorf("a zero time was stored as %v, want now in UTC, in whole microseconds", tm)
	}
	mustVerify(t, h.Store)
}

func testAppendAllOrNothing(t *testing.T, h Harness) {
	s := h.Store
	for name, bad := range map[string]audit.Entry{
		"unknown result": entry(2, func(e *audit.Entry) { e.Result = "maybe" }),
		"empty result":   entry(2, func(e *audit.Entry) { e.Result = "" }),
		"blank action":   entry(2, func(e *audit.Entry) { e.Action = "  " }),
		"year 2500":      entry(2, func(e *audit.Entry) { e.Time = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		_, err := s.Append(t.Context(), []audit.Entry{entry(1), bad, entry(3)})
		wantInvalid(t, "Append with an entry with "+name, err)
	}
	if recs := all(t, s); len(recs) != 0 {
		t.Fatalf("refused appends wrote %d records", len(recs))
	}
	// The chain starts at 1 all the same.
	checkChain(t, appendN(t, s, 1, 2), audit.Genesis())
}

func testAppendCanceled(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Store.Append(ctx, []audit.Entry{entry(1)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with an ended context: %v, want context.Canceled", err)
	}
	if recs := all(t, h.Store); len(recs) != 0 {
		t.Errorf("an Append whose context had ended wrote %d records", len(recs))
	}
}

func testAppendNormalizes(t *testing.T, h Harness) {
	zone := time.FixedZone("UTC+5", 5*3600)
	in := entry(1, func(e *audit.Entry) {
		e.Time = time.Date(2030, 1, 2, 8, 4, 5, 123456789, zone)
		e.UserID = "bad\xffutf8"
		e.ResourceID = "nul\x00byte"
		e.Reason = strings.Repeat("é", audit.MaxReasonBytes)
	})
	got, err := h.Store.Append(t.Context(), []audit.Entry{in})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	r := all(t, h.Store)[0]
	if !recordEqual(r, got[0]) {
		t.Errorf("stored %+v, Append returned %+v", r, got[0])
	}
	if want := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC); !r.Time.Equal(want) || r.Time.Location() != time.UTC {
		t.Errorf("time stored as %v, want %v", r.Time, want)
	}
	if r.UserID != "bad\uFFFDutf8" || r.ResourceID != "nul\uFFFDbyte" {
		t.Errorf("user %q, resource %q: want invalid UTF-8 and NUL as U+FFFD", r.UserID, r.ResourceID)
	}
	if len(r.Reason) > audit.MaxReasonBytes || !strings.HasSuffix(r.Reason, "…") || !strings.HasPrefix(r.Reason, "éé") {
		t.Errorf("a long reason was stored as %d bytes %q...", len(r.Reason), r.Reason[:min(len(r.Reason), 10)])
	}
	mustVerify(t, h.Store)
}

// Credentials the redaction test plants; none may appear in any record.
var planted = []string{
	"s3cr3t-Bearer-Value-0123456789",
	"ghp_0123456789abcdefghijABCDEFGHIJ012345",
	"hunter2-password-value",
	"sk-ant-api03-0123456789abcdefghij-XYZ",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"AKIAIOSFODNN7EXAMPLE",
	"url-pass-w0rd",
	"api-key-value-42",
	"cookie-value-session-abc",
	"xoxb-123456789012-abcdefghijkl",
}

// leaks returns the planted credentials found in s.
func leaks(s string) []string {
	var found []string
	for _, p := range planted {
		if strings.Contains(s, p) {
			found = append(found, p)
		}
	}
	return found
}

// credentialTexts are the shapes a credential arrives in, one per planted
// value (%s is the value).
var credentialTexts = []string{
	"Authorization: Bearer %s",
	"cloned with %s",
	`{"user":"bob","password":"%s"}`,
	"provider key %s rejected",
	"session token %s",
	"aws %s",
	"git fetch https://bob:%s@example.com/repo.git",
	"api_key=%s&page=2",
	"Cookie: %s",
	"slack %s",
}

func testNoCredentialIsWritten(t *testing.T, h Harness) {
	var in []audit.Entry
	for i, p := range planted {
		text := fmt.Sprintf(credentialTexts[i], p)
		if i == 4 {
			text = "bearer " + p // a JWT as a bearer credential
		}
		// Every field carries the credential, whatever it is for.
		in = append(in, audit.Entry{
			Time: epoch, Action: "auth." + text, UserID: text, SessionID: text, DeviceID: text,
			ResourceType: text, ResourceID: text, Result: audit.ResultDenied, Reason: text,
		})
	}
	got, err := h.Store.Append(t.Context(), in)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	stored := all(t, h.Store)
	page, err := h.Store.Query(t.Context(), audit.Query{})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	for _, recs := range [][]audit.Record{got, stored, page.Records} {
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if found := leaks(string(b)); len(found) > 0 {
				t.Errorf("record %d carries credentials %q: %s", r.Seq, found, b)
			}
			if !strings.Contains(r.Reason, audit.Redacted) {
				t.Errorf("record %d: reason %q does not say what was redacted", r.Seq, r.Reason)
			}
		}
	}
	if len(stored) != len(planted) {
		t.Errorf("stored %d records, want %d", len(stored), len(planted))
	}
	mustVerify(t, h.Store)
}

func testConcurrentAppenders(t *testing.T, h Harness) {
	const appenders, calls = 32, 12
	s := h.Store
	var wg sync.WaitGroup
	returned := make([][]audit.Record, appenders)
	errs := make(chan error, appenders)
	for g := range appenders {
		wg.Go(func() {
			for c := range calls {
				n := 1 + (g+c)%3
				es := make([]audit.Entry, n)
				for k := range es {
					es[k] = entry(c, func(e *audit.Entry) {
						e.UserID = fmt.Sprintf("user-%d", g)
						e.ResourceID = fmt.Sprintf("%d.%d", c, k)
					})
				}
				recs, err := s.Append(t.Context(), es)
				if err != nil {
					errs <- err
					return
				}
				if len(recs) != n {
					errs <- fmt.Errorf("appender %d: Append of %d returned %d records", g, n, len(recs))
					return
				}
				returned[g] = append(returned[g], recs...)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	stored := all(t, s)
	total := 0
	for g := range appenders {
		total += len(returned[g])
	}
	if len(stored) != total {
		t.Fatalf("stored %d records, the appenders got %d", len(stored), total)
	}
	checkChain(t, stored, audit.Genesis())
	bySeq := make(map[int64]audit.Record, total)
	for _, r := range stored {
		bySeq[r.Seq] = r
	}
	for g, recs := range returned {
		for i, r := range recs {
			if !recordEqual(bySeq[r.Seq], r) {
				t.Fatalf("appender %d: Append returned %+v, stored %+v", g, r, bySeq[r.Seq])
			}
			// Each appender's records are in the order it appended them.
			if i > 0 && r.Seq <= recs[i-1].Seq {
				t.Fatalf("appender %d: record %s has seq %d after %d", g, r.ResourceID, r.Seq, recs[i-1].Seq)
			}
			// One call's records are consecutive.
			if strings.HasSuffix(r.ResourceID, ".1") || strings.HasSuffix(r.ResourceID, ".2") {
				if r.Seq != recs[i-1].Seq+1 {
					t.Fatalf("appender %d: the records of one Append are not consecutive: %d after %d", g, r.Seq, recs[i-1].Seq)
				}
			}
		}
	}
	rep := mustVerify(t, s)
	if rep.Records != int64(total) || rep.Head.Seq != int64(total) {
		t.Errorf("Verify walked %d records to head %d, want %d", rep.Records, rep.Head.Seq, total)
	}
}

func testScan(t *testing.T, h Harness) {
	s := h.Store
	appendN(t, s, 1, 10)
	var seqs []int64
	if err := s.Scan(t.Context(), 4, func(r audit.Record) error {
		seqs = append(seqs, r.Seq)
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if want := []int64{4, 5, 6, 7, 8, 9, 10}; !slices.Equal(seqs, want) {
		t.Errorf("Scan from 4 visited %v, want %v", seqs, want)
	}
	stop := errors.New("enough")
	n := 0
	err := s.Scan(t.Context(), 1, func(audit.Record) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Scan whose fn fails at the third record: %v after %d records, want the fn's error after 3", err, n)
	}
	if err := s.Scan(t.Context(), 11, func(r audit.Record) error {
		return fmt.Errorf("Scan past the end visited record %d", r.Seq)
	}); err != nil {
		t.Error(err)
	}
}

func testQuery(t *testing.T, h Harness) {
	s := h.Store
	users := []string{"alice", "bob", "carol"}
	actions := []string{"task.submit", "task.cancel", "skill.execute", "config.write"}
	results := []string{audit.ResultAllowed, audit.ResultDenied, audit.ResultOK, audit.ResultError}
	var in []audit.Entry
	for i := range 60 {
		in = append(in, entry(i, func(e *audit.Entry) {
			e.UserID = users[i%3]
			e.SessionID = fmt.Sprintf("sess-%d", i%5)
			e.Action = actions[i%4]
			e.Result = results[(i/4)%4]
			e.ResourceType = []string{"task", "skill"}[i%2]
			e.ResourceID = fmt.Sprintf("r-%d", i%6)
			if i%7 == 0 {
				e.SessionID, e.DeviceID, e.ResourceType, e.ResourceID = "", "", "", ""
			}
		}))
	}
	recs, err := s.Append(t.Context(), in)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	at := func(i int) time.Time { return epoch.Add(time.Duration(i) * time.Millisecond) }
	for _, q := range []audit.Query{
		{},
		{UserID: "bob"},
		{SessionID: "sess-3"},
		{Action: "skill.execute"},
		{ResourceType: "skill"},
		{ResourceType: "task", ResourceID: "r-2"},
		{Result: audit.ResultDenied},
		{Since: at(10)},
		{Until: at(10)},
		{Since: at(10), Until: at(25)},
		{UserID: "alice", Action: "task.submit", Since: at(5)},
		{UserID: "alice", SessionID: "sess-1", Result: audit.ResultOK},
		{UserID: "nobody"},
		{Since: at(30), Until: at(30)},
	} {
		var want []audit.Record
		for i := len(recs) - 1; i >= 0; i-- {
			if Matches(q, recs[i]) {
				want = append(want, recs[i])
			}
		}
		for _, limit := range []int{0, 1, 7, 60} {
			q := q
			q.Limit = limit
			got := pages(t, s, q)
			if !slices.EqualFunc(got, want, recordEqual) {
				t.Errorf("Query %+v returned seqs %v, want %v", q, seqsOf(got), seqsOf(want))
			}
		}
	}
}

// pages follows a query's cursors to the end and returns every record,
// checking each page's size.
func pages(t *testing.T, s audit.Store, q audit.Query) []audit.Record {
	t.Helper()
	var recs []audit.Record
	for range 1000 {
		page, err := s.Query(t.Context(), q)
		if err != nil {
			t.Fatalf("Query %+v: %v", q, err)
		}
		if len(page.Records) > q.PageSize() {
			t.Fatalf("Query %+v: page of %d records", q, len(page.Records))
		}
		if page.NextCursor != "" && len(page.Records) != q.PageSize() {
			t.Fatalf("Query %+v: a page of %d records before the last", q, len(page.Records))
		}
		recs = append(recs, page.Records...)
		if page.NextCursor == "" {
			return recs
		}
		q.Cursor = page.NextCursor
	}
	t.Fatalf("Query %+v: cursors never end", q)
	return nil
}

func seqsOf(recs []audit.Record) []int64 {
	seqs := make([]int64, len(recs))
	for i, r := range recs {
		seqs[i] = r.Seq
	}
	return seqs
}

func testQueryInvalid(t *testing.T, h Harness) {
	for _, q := range []audit.Query{
		{Limit: -1},
		{Limit: audit.MaxPageSize + 1},
		{Cursor: "not-a-cursor"},
		{Cursor: "0"},
		{Result: "maybe"},
		{Since: epoch, Until: epoch.Add(-time.Second)},
	} {
		_, err := h.Store.Query(t.Context(), q)
		wantInvalid(t, fmt.Sprintf("Query %+v", q), err)
	}
}

func testVerifyEmpty(t *testing.T, h Harness) {
	rep := mustVerify(t, h.Store)
	if rep.Records != 0 || rep.Head != audit.Genesis() {
		t.Errorf("Verify of an empty log: %+v", rep)
	}
}

func testVerifyCheckpoints(t *testing.T, h Harness) {
	s := h.Store
	recs := appendN(t, s, 1, 6)
	cp := audit.Checkpoint{Seq: 4, Hash: recs[3].Hash}
	if rep := mustVerify(t, s, cp); rep.Checkpoints != 1 {
		t.Errorf("Verify compared %d checkpoints, want 1", rep.Checkpoints)
	}
	bad := audit.Checkpoint{Seq: 4, Hash: recs[2].Hash}
	rep, err := audit.Verify(t.Context(), s, bad)
	if err != nil {
		t.Fatal(err)
	}
	wantBreak(t, rep, 4, audit.BreakRewritten, "record 4: hash does not match the trusted checkpoint (rewritten)")
	beyond := audit.Checkpoint{Seq: 9, Hash: recs[0].Hash}
	rep, err = audit.Verify(t.Context(), s, beyond)
	if err != nil {
		t.Fatal(err)
	}
	wantBreak(t, rep, 7, audit.BreakTruncated, "chain ends at record 6 before the trusted checkpoint at record 9 (tail deleted)")
}

// wantBreak fails unless rep reports the break given.
func wantBreak(t *testing.T, rep audit.VerifyReport, seq int64, kind audit.BreakKind, msg string) {
	t.Helper()
	if rep.Break == nil {
		t.Fatalf("Verify found the chain intact, want %q", msg)
	}
	if b := *rep.Break; b.Seq != seq || b.Kind != kind || b.Message != msg {
		t.Fatalf("Verify: break %+v, want {Seq:%d Kind:%s Message:%s}", b, seq, kind, msg)
	}
	if err := rep.Err(); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("VerifyReport.Err() = %v, want an error matching audit.ErrTampered", err)
	}
	t.Logf("Verify: %s", rep.Break)
}

// A tamperCase damages a log of 10 records (whose hashes are given) with
// SQL and says what Verify must report.
type tamperCase struct {
	name string
	// sql returns the statements to run.
	sql func(recs []audit.Record) []string
	// anchored marks the cases only an audit.Anchorer can detect.
	anchored bool
	seq      int64
	kind     audit.BreakKind
	msg      string
	// trusted, when set, is a checkpoint to verify against; with it the
	// chain must break as said, and without it Verify must find it intact.
	trusted func(recs []audit.Record) audit.Checkpoint
	// appendRefused: a later Append must fail with audit.ErrTampered.
	appendRefused bool
}

var tamperCases = []tamperCase{
	{
		name: "EditReason",
		sql: func([]audit.Record) []string {
			return []string{"UPDATE audit_log SET reason = 'nothing to see here' WHERE seq = 5"}
		},
		seq: 5, kind: audit.BreakEdited, msg: "record 5: hash mismatch (edited)",
	},
	{
		name: "EditResult",
		sql: func([]audit.Record) []string {
			return []string{"UPDATE audit_log SET result = 'denied' WHERE seq = 8"}
		},
		seq: 8, kind: audit.BreakEdited, msg: "record 8: hash mismatch (edited)",
	},
	{
		name: "EditAndRehash",
		sql: func(recs []audit.Record) []string {
			r := recs[4]
			r.Reason = "nothing to see here"
			return []string{fmt.Sprintf("UPDATE audit_log SET reason = '%s', hash = '%s' WHERE seq = 5", r.Reason, r.ComputeHash())}
		},
		seq: 6, kind: audit.BreakLink, msg: "record 6: prev_hash does not match record 5 (deleted or reordered)",
	},
	{
		name: "DeleteMiddle",
		sql:  func([]audit.Record) []string { return []string{"DELETE FROM audit_log WHERE seq = 5"} },
		seq:  6, kind: audit.BreakGap, msg: "seq gap after 4 (deleted)",
	},
	{
		name: "DeleteFirst",
		sql:  func([]audit.Record) []string { return []string{"DELETE FROM audit_log WHERE seq = 1"} },
		seq:  2, kind: audit.BreakGap, msg: "seq gap after 0 (deleted)",
	},
	{
		name: "DeleteAndRenumber",
		sql: func([]audit.Record) []string {
			s := []string{"DELETE FROM audit_log WHERE seq = 5"}
			for seq := 6; seq <= 10; seq++ {
				s = append(s, fmt.Sprintf("UPDATE audit_log SET seq = %d WHERE seq = %d", seq-1, seq))
			}
			return s
		},
		seq: 5, kind: audit.BreakLink, msg: "record 5: prev_hash does not match record 4 (deleted or reordered)",
	},
	{
		name: "Swap",
		sql: func([]audit.Record) []string {
			return []string{
				"UPDATE audit_log SET seq = -1 WHERE seq = 3",
				"UPDATE audit_log SET seq = 3 WHERE seq = 7",
				"UPDATE audit_log SET seq = 7 WHERE seq = -1",
			}
		},
		seq: 3, kind: audit.BreakLink, msg: "record 3: prev_hash does not match record 2 (deleted or reordered)",
	},
	{
		name:     "DeleteLast",
		sql:      func([]audit.Record) []string { return []string{"DELETE FROM audit_log WHERE seq = 10"} },
		anchored: true, appendRefused: true,
		seq: 10, kind: audit.BreakTruncated, msg: "chain ends at record 9 but the anchor is at record 10 (tail deleted)",
	},
	{
		name: "DeleteTail",
		sql: func([]audit.Record) []string {
			return []string{"DELETE FROM audit_log WHERE seq >= 7"}
		},
		anchored: true, appendRefused: true,
		seq: 7, kind: audit.BreakTruncated, msg: "chain ends at record 6 but the anchor is at record 10 (tail deleted)",
	},
	{
		name: "ForgeRecordBeyondAnchor",
		sql: func(recs []audit.Record) []string {
			r := audit.Chain(audit.Checkpoint{Seq: 10, Hash: recs[9].Hash}, []audit.Entry{{
				Time: recs[9].Time, Action: "config.write", UserID: "mallory", Result: audit.ResultAllowed,
			}})[0]
			return []string{fmt.Sprintf(`INSERT INTO audit_log (seq, time, action, user_id, result, prev_hash, hash)
				VALUES (11, %d, 'config.write', 'mallory', 'allowed', '%s', '%s')`, r.Time.UnixNano(), r.PrevHash, r.Hash)}
		},
		anchored: true, appendRefused: true,
		seq: 11, kind: audit.BreakUnanchored, msg: "record 11: beyond the anchor at record 10 (written around the store, or the anchor was rolled back)",
	},
	{
		// Whoever deletes the newest record and moves the anchor back
		// defeats the anchor; only a checkpoint kept elsewhere shows it.
		name: "DeleteLastAndMoveAnchor",
		sql: func(recs []audit.Record) []string {
			return []string{
				"DELETE FROM audit_log WHERE seq = 10",
				fmt.Sprintf("UPDATE audit_anchor SET seq = 9, hash = '%s'", recs[8].Hash),
			}
		},
		anchored: true,
		trusted:  func(recs []audit.Record) audit.Checkpoint { return audit.Checkpoint{Seq: 10, Hash: recs[9].Hash} },
		seq:      10, kind: audit.BreakTruncated, msg: "chain ends at record 9 before the trusted checkpoint at record 10 (tail deleted)",
	},
}

func testTamper(t *testing.T, h Harness, tc tamperCase) {
	s := h.Store
	_, anchored := s.(audit.Anchorer)
	if tc.anchored && !anchored {
		t.Skip("the store is not an audit.Anchorer: it cannot detect this")
	}
	recs := appendN(t, s, 1, 10)
	mustVerify(t, s)
	for _, q := range tc.sql(recs) {
		if err := h.Exec(t.Context(), q); err != nil {
			t.Fatalf("tamper: %s: %v", q, err)
		}
	}
	var trusted []audit.Checkpoint
	if tc.trusted != nil {
		mustVerify(t, s) // the damage is invisible without the checkpoint
		trusted = append(trusted, tc.trusted(recs))
	}
	rep, err := audit.Verify(t.Context(), s, trusted...)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wantBreak(t, rep, tc.seq, tc.kind, tc.msg)

	if tc.appendRefused {
		_, err := s.Append(t.Context(), []audit.Entry{entry(11)})
		if !errors.Is(err, audit.ErrTampered) {
			t.Fatalf("Append to the damaged chain: %v, want an error matching audit.ErrTampered", err)
		}
		t.Logf("Append: %v", err)
		again, err := audit.Verify(t.Context(), s, trusted...)
		if err != nil {
			t.Fatal(err)
		}
		if again.Break == nil || *again.Break != *rep.Break {
			t.Fatalf("after the refused Append, Verify reports %v, want the same %v", again.Break, rep.Break)
		}
	}
}
