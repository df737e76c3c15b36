package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coderclaw/coderclaw"
)

// wireStream is a fake node speaking the SSE wire format, to inject faults
// a real node does not make. Each connection gets the next script; the
// Last-Event-ID headers are recorded.
type wireStream struct {
	mu      sync.Mutex
	scripts []string
	ids     []string
}

func (s *wireStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ids = append(s.ids, r.Header.Get("Last-Event-ID"))
	script := ""
	if len(s.scripts) > 0 {
		script, s.scripts = s.scripts[0], s.scripts[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(script))
}

func (s *wireStream) lastEventIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// frame renders an event of task t as the server does.
func frame(seq int64, typ coderclaw.EventType, status coderclaw.Status) string {
	b, err := json.Marshal(coderclaw.Event{TaskID: "t", Seq: seq, Type: typ, Status: status})
	if err != nil {
		panic(err)
	}
	return string(appendSSE(nil, sseFrame{ID: fmt.Sprint(seq), HasID: true, Event: string(typ), Data: string(b)}))
}

// collect iterates a stream and returns the seqs and the error it ends with.
func collect(t *testing.T, c *Client, after int64) ([]int64, error) {
	t.Helper()
	var seqs []int64
	for ev, err := range c.Stream(testCtx(t), "t", after) {
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, ev.Seq)
	}
	return seqs, nil
}

func TestClientStreamWire(t *testing.T) {
	t.Parallel()
	log := func(seq int64) string { return frame(seq, coderclaw.EventLog, "") }
	done := func(seq int64) string { return frame(seq, coderclaw.EventStatus, coderclaw.StatusCompleted) }
	cases := []struct {
		name    string
		after   int64
		scripts []string
		seqs    []int64
		ids     []string // Last-Event-ID of each connection
		code    coderclaw.Code
		msg     string
	}{
		{name: "reconnect after a drop", scripts: []string{log(1) + ": hb\n\n" + log(2), log(3) + done(4) + log(5)},
			seqs: []int64{1, 2, 3, 4}, ids: []string{"0", "2"}},
		{name: "drop mid-frame", after: 5, scripts: []string{log(6) + "id: 7\ndata: {\"seq\"", log(7) + done(8)},
			seqs: []int64{6, 7, 8}, ids: []string{"5", "6"}},
		{name: "end event", after: 9, scripts: []string{"event: end\ndata: {}\n\n"}, ids: []string{"9"}},
		{name: "gap", scripts: []string{log(1) + log(3)}, seqs: []int64{1}, ids: []string{"0"},
			code: coderclaw.CodeInternal, msg: "event 3 (id \"3\") arrived after event 1"},
		{name: "duplicate", scripts: []string{log(1) + log(2), log(2)}, seqs: []int64{1, 2}, ids: []string{"0", "2"},
			code: coderclaw.CodeInternal, msg: "gap or a repeat"},
		{name: "id disagrees with seq", scripts: []string{strings.Replace(log(1), "id: 1", "id: 9", 1)}, ids: []string{"0"},
			code: coderclaw.CodeInternal},
		{name: "error event", scripts: []string{log(1) + "event: error\ndata: {\"error\":{\"code\":\"forbidden\",\"message\":\"no\"}}\n\n"},
			seqs: []int64{1}, ids: []string{"0"}, code: coderclaw.CodeForbidden, msg: "no"},
		{name: "unavailable error event resumes", scripts: []string{log(1) + "event: error\ndata: {\"error\":{\"code\":\"unavailable\",\"message\":\"node is shutting down\"}}\n\n", done(2)},
			seqs: []int64{1, 2}, ids: []string{"0", "1"}},
		{name: "malformed error event", scripts: []string{"event: error\ndata: oops\n\n"}, ids: []string{"0"}, code: coderclaw.CodeInternal},
		{name: "malformed event", scripts: []string{"id: 1\nevent: log\ndata: {\n\n"}, ids: []string{"0"}, code: coderclaw.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := &wireStream{scripts: tc.scripts}
			base, _ := serve(t, ws)
			seqs, err := collect(t, newClient(t, base), tc.after)
			if fmt.Sprint(seqs) != fmt.Sprint(tc.seqs) {
				t.Errorf("seqs %v, want %v", seqs, tc.seqs)
			}
			if got := ws.lastEventIDs(); fmt.Sprint(got) != fmt.Sprint(tc.ids) {
				t.Errorf("Last-Event-IDs %q, want %q", got, tc.ids)
			}
			if tc.code == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			var ce *coderclaw.Error
			if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
				t.Errorf("error %v, want code %s with %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestClientStreamNotAnEventStream(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>login</html>\n\n"))
	}))
	_, err := collect(t, newClient(t, base), 0)
	if coderclaw.ErrorCode(err) != coderclaw.CodeInternal || !strings.Contains(err.Error(), `"text/html"`) {
		t.Errorf("got %v", err)
	}
}

func TestClientStreamArguments(t *testing.T) {
	t.Parallel()
	c := newClient(t, "http://127.0.0.1:1")
	for _, tc := range []struct {
		id    string
		after int64
		code  coderclaw.Code
	}{{"t", -1, coderclaw.CodeInvalid}, {"", 0, coderclaw.CodeNotFound}} {
		n := 0
		for _, err := range c.Stream(testCtx(t), tc.id, tc.after) {
			n++
			if coderclaw.ErrorCode(err) != tc.code {
				t.Errorf("%q after %d: %v, want %s", tc.id, tc.after, err, tc.code)
			}
		}
		if n != 1 {
			t.Errorf("%q after %d: %d items", tc.id, tc.after, n)
		}
	}
}
