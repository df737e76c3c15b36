package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// FuzzDecodeSubmit checks that decoding a submit body never panics, that a
// failure is an invalid error answered with 400 (413 or 415 from the
// transport), and that a success is a valid request that survives a round
// trip through JSON.
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`{"input":"echo hi","agent_id":"shell"}`,
		`{"description":"d","input":"x","agent_id":"noop","parent_id":"p","session_id":"s","project":"p","repo":"/r","labels":{"a":"b"},"metadata":{"m":"1"},"priority":-3,"max_attempts":2}`,
		`{"input": 5}`,
		`{"input":"x","agent_id":"shell","labels":{"":"v"}}`,
		`{"input":"x","agent_id":"shell"} {}`,
		`{"input":"x","agent_id":"shell","priority":1e400}`,
		`{"input":"\ud800","agent_id":"shell"}`,
		`[`, ``, `null`, `{"INPUT":"x","Agent_Id":"y"}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"input":"x","agent_id":"y"}`), "")
	f.Add([]byte(`{"input":"x","agent_id":"y"}`), "text/plain; charset=utf-8")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		r := httptest.NewRequest(http.MethodPost, "/api/runtime/tasks/submit", bytes.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		req, err := decodeSubmit(w, r, 1<<10)
		if err != nil {
			status, e := toWire(err)
			if e.Code != coderclaw.CodeInvalid || e.Message == "" {
				t.Fatalf("error %v: code %q message %q, want invalid with a message", err, e.Code, e.Message)
			}
			if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge && status != http.StatusUnsupportedMediaType {
				t.Fatalf("error %v: status %d", err, status)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("decoded request does not validate: %v", err)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var again coderclaw.SubmitRequest
		if err := unmarshalStrict(b, &again); err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(again, req) {
			t.Fatalf("round trip: %+v, want %+v", again, req)
		}
	})
}

func TestFilterRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	for _, f := range []coderclaw.Filter{
		{},
		{Status: []coderclaw.Status{coderclaw.StatusRunning, coderclaw.StatusPending}},
		{AgentID: "shell", SessionID: "s 1", Project: "p&q=r", ParentID: "x/y", Cursor: "abc==", Limit: 7,
			CreatedAfter: at, CreatedBefore: at.Add(time.Hour)},
	} {
		got, err := parseFilter(encodeFilter(f))
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("round trip %+v, want %+v", got, f)
		}
	}
	got, err := parseFilter(url.Values{"status": {"running, pending", "", "waiting"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []coderclaw.Status{"running", "pending", "waiting"}; !reflect.DeepEqual(got.Status, want) {
		t.Errorf("statuses %v, want %v", got.Status, want)
	}
	// A time in another zone is the same instant.
	zone := time.FixedZone("x", 3600)
	got, err = parseFilter(encodeFilter(coderclaw.Filter{CreatedAfter: at.In(zone)}))
	if err != nil || !got.CreatedAfter.Equal(at) {
		t.Errorf("zoned time: %v, %v", got.CreatedAfter, err)
	}
}

func TestParseAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header, query string
		want          int64
		ok            bool
	}{
		{"", "", 0, true},
		{"5", "", 5, true},
		{"", "after=9", 9, true},
		{"5", "after=9", 5, true},
		{"x", "", 0, false},
		{"-1", "", 0, false},
		{"", "after=1.5", 0, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/runtime/tasks/x/stream?"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("Last-Event-ID", tc.header)
		}
		got, err := parseAfter(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q %q: %d, %v", tc.header, tc.query, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "sequence number") {
			t.Errorf("message %q", err)
		}
	}
}

func TestUnmarshalMisuse(t *testing.T) {
	t.Parallel()
	var req coderclaw.SubmitRequest
	err := unmarshalStrict([]byte(`{}`), req) // not a pointer: a bug, not the client's fault
	if coderclaw.ErrorCode(err) != coderclaw.CodeInternal || !errors.As(err, new(*json.InvalidUnmarshalError)) {
		t.Errorf("got %v, want an internal error wrapping the cause", err)
	}
}
