package http

import (
	"net/url"
	"testing"

	"github.com/coderclaw/coderclaw"
)

// FuzzParseFilter checks that any query string either parses into a filter
// that validates and survives encoding and parsing again, or fails with an
// invalid error; it never panics.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "status=running", "status=running,pending&status=failed", "agent_id=shell&limit=10",
		"created_after=2026-01-02T03:04:05Z&created_before=2026-12-31T00:00:00.5%2B01:00",
		"limit=-1", "limit=1001", "limit=abc", "status=RUNNING", "bogus=1", "cursor=0190a0f8-0000-7000-8000-000000000000",
		"project=%ff%fe", "status=,,", "parent_id=a&session_id=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // not a query string a client can send
		}
		flt, err := parseFilter(q)
		if err != nil {
			if coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
				t.Fatalf("%q: error %v is not invalid", raw, err)
			}
			return
		}
		if err := flt.Validate(); err != nil {
			t.Fatalf("%q: parsed filter does not validate: %v", raw, err)
		}
		again, err := parseFilter(encodeFilter(flt))
		if err != nil {
			t.Fatalf("%q: re-encoded filter does not parse: %v", raw, err)
		}
		if !again.CreatedAfter.Equal(flt.CreatedAfter) || !again.CreatedBefore.Equal(flt.CreatedBefore) ||
			again.Limit != flt.Limit || again.Cursor != flt.Cursor || again.AgentID != flt.AgentID ||
			len(again.Status) != len(flt.Status) {
			t.Fatalf("%q: round trip %+v -> %+v", raw, flt, again)
		}
	})
}
