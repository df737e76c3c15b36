package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/audit"
)

var testTime = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func sampleRecord() audit.Record {
	return audit.Record{
		Seq: 42, Time: testTime, Action: "task.submit", UserID: "alice", SessionID: "sess-1", DeviceID: "laptop",
		ResourceType: "task", ResourceID: "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a", Result: audit.ResultDenied,
		Reason: "role readonly lacks task:submit", PrevHash: audit.GenesisHash,
	}
}

// TestCanonical builds the canonical encoding from its specification, byte
// by byte, and pins the hash of a sample record: another implementation
// (a PostgreSQL backend, an external verifier) can check itself against
// both (the pinned hash was also computed by an independent Python
// implementation of the specification).
func TestCanonical(t *testing.T) {
	r := sampleRecord()
	var want bytes.Buffer
	field := func(b []byte) {
		_ = binary.Write(&want, binary.BigEndian, uint32(len(b)))
		want.Write(b)
	}
	i64 := func(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
	field([]byte("coderclaw-audit-v1"))
	field(i64(42))
	field(i64(testTime.UnixNano()))
	for _, s := range []string{"task.submit", "alice", "sess-1", "laptop", "task", "0198c1b2-7a4e-7c3d-9b1a-2f3e4d5c6b7a",
		"denied", "role readonly lacks task:submit", audit.GenesisHash} {
		field([]byte(s))
	}
	if got := r.Canonical(); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("Canonical =\n%x\nwant\n%x", got, want.Bytes())
	}
	sum := sha256.Sum256(want.Bytes())
	if got := r.ComputeHash(); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("ComputeHash = %s, want the SHA-256 of the canonical encoding", got)
	}
	const pinned = "04319f78a0cec232b7c86c604dd1ad5062e049ca62168604a38f644b73de21aa"
	if got := r.ComputeHash(); got != pinned {
		t.Errorf("ComputeHash = %s, want %s: the encoding changed, and every stored chain with it", got, pinned)
	}
}

// TestCanonicalInjective: moving bytes from one field to the next, or
// changing any single field, changes the hash.
func TestCanonicalInjective(t *testing.T) {
	base := sampleRecord()
	seen := map[string]string{base.ComputeHash(): "base"}
	for name, mod := range map[string]func(*audit.Record){
		"shift action/user": func(r *audit.Record) { r.Action, r.UserID = "task.submita", "lice" },
		"shift user/session": func(r *audit.Record) {
			r.UserID, r.SessionID = "alicesess-1", ""
		},
		"empty reason":   func(r *audit.Record) { r.Reason = "" },
		"seq":            func(r *audit.Record) { r.Seq = 43 },
		"time":           func(r *audit.Record) { r.Time = r.Time.Add(time.Microsecond) },
		"device":         func(r *audit.Record) { r.DeviceID = "phone" },
		"resource type":  func(r *audit.Record) { r.ResourceType = "skill" },
		"resource id":    func(r *audit.Record) { r.ResourceID = "other" },
		"result":         func(r *audit.Record) { r.Result = audit.ResultAllowed },
		"prev hash":      func(r *audit.Record) { r.PrevHash = sampleRecord().ComputeHash() },
		"reason to user": func(r *audit.Record) { r.UserID, r.Reason = r.UserID+r.Reason, "" },
	} {
		r := sampleRecord()
		mod(&r)
		h := r.ComputeHash()
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s hash alike", name, other)
		}
		seen[h] = name
	}
	// Hash is not part of what is hashed.
	r := sampleRecord()
	r.Hash = "anything"
	if r.ComputeHash() != base.ComputeHash() {
		t.Error("the Hash field changes ComputeHash")
	}
}

func TestChain(t *testing.T) {
	es := []audit.Entry{sampleRecord().Entry(), sampleRecord().Entry(), sampleRecord().Entry()}
	recs := audit.Chain(audit.Genesis(), es)
	prev := audit.Genesis()
	for i, r := range recs {
		if r.Seq != int64(i+1) || r.PrevHash != prev.Hash || r.Hash != r.ComputeHash() || r.Entry() != es[i] {
			t.Fatalf("record %d: %+v", i, r)
		}
		prev = audit.Checkpoint{Seq: r.Seq, Hash: r.Hash}
	}
	if recs[0].Hash == recs[1].Hash {
		t.Error("two records of equal entries hash alike")
	}
	// Chaining in two steps gives the same chain as in one.
	first := audit.Chain(audit.Genesis(), es[:1])
	rest := audit.Chain(audit.Checkpoint{Seq: 1, Hash: first[0].Hash}, es[1:])
	if first[0] != recs[0] || rest[0] != recs[1] || rest[1] != recs[2] {
		t.Error("Chain in two steps differs from Chain in one")
	}
	if len(audit.GenesisHash) != 64 || audit.Genesis() != (audit.Checkpoint{Seq: 0, Hash: audit.GenesisHash}) {
		t.Error("bad genesis")
	}
}

func BenchmarkComputeHash(b *testing.B) {
	r := sampleRecord()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.ComputeHash()
	}
}
