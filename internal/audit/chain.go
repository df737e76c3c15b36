package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// GenesisHash is the PrevHash of the first record: 64 zeros.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// encodingTag opens every canonical encoding; a future encoding gets a new
// tag, so that no record can be read under the wrong one.
const encodingTag = "coderclaw-audit-v1"

// Genesis returns the checkpoint of the empty chain.
func Genesis() Checkpoint { return Checkpoint{Seq: 0, Hash: GenesisHash} }

// Canonical returns the bytes a record's Hash is the SHA-256 of: a sequence
// of fields, each written as its length in bytes (4-byte big-endian
// unsigned) followed by its bytes, in this order:
//
//	"coderclaw-audit-v1"                        (the encoding's tag)
//	Seq                                         8 bytes, big-endian two's complement
//	Time                                        8 bytes, big-endian two's complement unix nanoseconds
//	Action, UserID, SessionID, DeviceID,
//	ResourceType, ResourceID, Result, Reason    UTF-8 bytes
//	PrevHash                                    its 64 lowercase hex characters (ASCII)
//
// Length prefixes make the encoding injective: no two different records
// encode to the same bytes, whatever their fields contain.
func (r Record) Canonical() []byte {
	n := len(encodingTag) + 8 + 8 + len(r.Action) + len(r.UserID) + len(r.SessionID) + len(r.DeviceID) +
		len(r.ResourceType) + len(r.ResourceID) + len(r.Result) + len(r.Reason) + len(r.PrevHash)
	return r.appendCanonical(make([]byte, 0, n+12*4))
}

func (r *Record) appendCanonical(b []byte) []byte {
	b = appendField(b, encodingTag)
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	for _, f := range [...]string{r.Action, r.UserID, r.SessionID, r.DeviceID, r.ResourceType, r.ResourceID, r.Result, r.Reason, r.PrevHash} {
		b = appendField(b, f)
	}
	return b
}

func appendField(b []byte, f string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// ComputeHash returns the hash the record should carry: the lowercase hex
// SHA-256 of its canonical encoding (every field but Hash).
func (r Record) ComputeHash() string {
	var buf [512]byte // most records fit: no allocation but the result
	sum := sha256.Sum256(r.appendCanonical(buf[:0]))
	return hex.EncodeToString(sum[:])
}

// Chain numbers and links entries after head: the first gets Seq
// head.Seq+1 and PrevHash head.Hash, each next one the Seq and Hash of the
// one before. The entries must be normalized (see Normalize); backends
// call Chain inside the transaction that read head and writes the records.
func Chain(head Checkpoint, entries []Entry) []Record {
	recs := make([]Record, len(entries))
	prev := head
	for i, e := range entries {
		r := &recs[i]
		*r = Record{Seq: prev.Seq + 1, Time: e.Time, Action: e.Action, UserID: e.UserID, SessionID: e.SessionID,
			DeviceID: e.DeviceID, ResourceType: e.ResourceType, ResourceID: e.ResourceID, Result: e.Result,
			Reason: e.Reason, PrevHash: prev.Hash}
		r.Hash = r.ComputeHash()
		prev = Checkpoint{Seq: r.Seq, Hash: r.Hash}
	}
	return recs
}

// validHash reports whether h has the form of a hash: 64 lowercase hex
// digits.
func validHash(h string) bool {
	return len(h) == 2*sha256.Size && strings.Trim(h, "0123456789abcdef") == ""
}
