package http

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
)

// reached is the error of the runtime behind the bad-input tests: a request
// that gets this answer was decoded and passed on.
var errReached = coderclaw.Errorf(coderclaw.CodeUnavailable, "reached the runtime")

func TestBadInput(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, NewHandler(fixedRuntime{errReached}, HandlerOptions{MaxBodyBytes: 4 << 10}))
	hc := rawClient(t)
	valid := `{"input":"echo hi","agent_id":"shell"}`
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		code                            coderclaw.Code
		msg                             []string // substrings of the message
	}{
		{"truncated", "POST", "/api/runtime/tasks/submit", "application/json", `{"input": "x",`, 400, coderclaw.CodeInvalid,
			[]string{"malformed JSON", "ends before"}},
		{"syntax", "POST", "/api/runtime/tasks/submit", "application/json", "{\"input\": \"x\"\n  \"agent_id\": \"y\"}", 400, coderclaw.CodeInvalid,
			[]string{"malformed JSON at line 2, column 3 (byte 16)", "invalid character"}},
		{"wrong type", "POST", "/api/runtime/tasks/submit", "application/json", `{"input": 5, "agent_id": "shell"}`, 400, coderclaw.CodeInvalid,
			[]string{`field "input"`, "want a string", "got JSON number"}},
		{"wrong nested type", "POST", "/api/runtime/tasks/submit", "", `{"input": "x", "agent_id": "shell", "labels": {"a": 1}}`, 400, coderclaw.CodeInvalid,
			[]string{`field "labels"`, "want a string"}},
		{"wrong int", "POST", "/api/runtime/tasks/submit", "", `{"input": "x", "agent_id": "shell", "priority": 1.5}`, 400, coderclaw.CodeInvalid,
			[]string{`field "priority"`, "want an integer", "1.5"}},
		{"unknown field", "POST", "/api/runtime/tasks/submit", "application/json", `{"input": "x", "agent_id": "shell", "inptu": "y"}`, 400, coderclaw.CodeInvalid,
			[]string{`unknown field "inptu"`, "known fields: description, input, agent_id"}},
		{"trailing data", "POST", "/api/runtime/tasks/submit", "application/json", valid + ` {}`, 400, coderclaw.CodeInvalid,
			[]string{"unexpected data after the JSON value at line 1, column 40 (byte 39)"}},
		{"empty body", "POST", "/api/runtime/tasks/submit", "application/json", ``, 400, coderclaw.CodeInvalid,
			[]string{"empty"}},
		{"array", "POST", "/api/runtime/tasks/submit", "application/json", `[1]`, 400, coderclaw.CodeInvalid,
			[]string{"want an object", "got JSON array"}},
		{"invalid request", "POST", "/api/runtime/tasks/submit", "application/json", `{"input": " ", "agent_id": "shell"}`, 400, coderclaw.CodeInvalid,
			[]string{"input: must not be empty"}},
		{"too large", "POST", "/api/runtime/tasks/submit", "application/json", `{"input": "` + strings.Repeat("x", 5<<10) + `", "agent_id": "shell"}`, 413, coderclaw.CodeInvalid,
			[]string{"exceeds the limit of 4096 bytes"}},
		{"not json", "POST", "/api/runtime/tasks/submit", "text/plain", valid, 415, coderclaw.CodeInvalid,
			[]string{`unsupported Content-Type "text/plain"`}},
		{"bad content type", "POST", "/api/runtime/tasks/submit", "application/", valid, 415, coderclaw.CodeInvalid,
			[]string{"Content-Type"}},
		{"no content type", "POST", "/api/runtime/tasks/submit", "", valid, 503, coderclaw.CodeUnavailable,
			[]string{"reached the runtime"}},
		{"json with charset", "POST", "/api/runtime/tasks/submit", "application/json; charset=utf-8", valid, 503, coderclaw.CodeUnavailable,
			[]string{"reached the runtime"}},
		{"respond malformed", "POST", "/api/runtime/tasks/x/respond", "application/json", `{"input": }`, 400, coderclaw.CodeInvalid,
			[]string{"malformed JSON at line 1, column 11"}},
		{"respond wrong type", "POST", "/api/runtime/tasks/x/respond", "application/json", `{"input": ["yes"]}`, 400, coderclaw.CodeInvalid,
			[]string{`field "input"`, "want a string", "array"}},
		{"respond unknown field", "POST", "/api/runtime/tasks/x/respond", "application/json", `{"answer": "yes"}`, 400, coderclaw.CodeInvalid,
			[]string{`unknown field "answer"`, "known fields: input"}},
		{"respond ok", "POST", "/api/runtime/tasks/x/respond", "application/json", `{"input": "yes"}`, 503, coderclaw.CodeUnavailable, nil},
		{"unknown route", "GET", "/api/runtime/nope", "", "", 404, coderclaw.CodeNotFound,
			[]string{"no route for GET /api/runtime/nope"}},
		{"root", "GET", "/", "", "", 404, coderclaw.CodeNotFound, nil},
		{"trailing slash", "GET", "/api/runtime/tasks/", "", "", 404, coderclaw.CodeNotFound, nil},
		{"unknown subroute", "GET", "/api/runtime/tasks/x/nope", "", "", 404, coderclaw.CodeNotFound, nil},
		{"bad status", "GET", "/api/runtime/tasks?status=running,bogus", "", "", 400, coderclaw.CodeInvalid,
			[]string{`status: unknown status "bogus"`}},
		{"bad limit", "GET", "/api/runtime/tasks?limit=ten", "", "", 400, coderclaw.CodeInvalid, []string{`limit: "ten" is not an integer`}},
		{"huge limit", "GET", "/api/runtime/tasks?limit=5000", "", "", 400, coderclaw.CodeInvalid, []string{"limit: 5000"}},
		{"bad time", "GET", "/api/runtime/tasks?created_after=yesterday", "", "", 400, coderclaw.CodeInvalid,
			[]string{"created_after", "RFC 3339"}},
		{"unknown parameter", "GET", "/api/runtime/tasks?staus=running", "", "", 400, coderclaw.CodeInvalid,
			[]string{`unknown query parameter "staus"`}},
		{"good filter", "GET", "/api/runtime/tasks?status=running&status=pending,waiting&created_after=2026-01-02T03:04:05Z&limit=3", "", "", 503, coderclaw.CodeUnavailable, nil},
		{"bad after", "GET", "/api/runtime/tasks/x/stream?after=abc", "", "", 400, coderclaw.CodeInvalid,
			[]string{`after: "abc"`}},
		{"negative after", "GET", "/api/runtime/tasks/x/stream?after=-1", "", "", 400, coderclaw.CodeInvalid, nil},
		{"stream of unreachable runtime", "GET", "/api/runtime/tasks/x/stream", "", "", 503, coderclaw.CodeUnavailable, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(testCtx(t), tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			e := wantErrorBody(t, resp, tc.status, tc.code)
			for _, m := range tc.msg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not contain %q", e.Message, m)
				}
			}
		})
	}
}

func TestWrongMethod(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, NewHandler(fixedRuntime{errReached}, HandlerOptions{}))
	hc := rawClient(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/runtime/tasks/x", "GET, HEAD"},
		{"GET", "/api/runtime/tasks/x/cancel", "POST"},
		{"PUT", "/api/runtime/tasks/submit", "GET, HEAD, POST"},
		{"POST", "/api/runtime/status", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	} {
		req, err := http.NewRequestWithContext(testCtx(t), tc.method, base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		e := wantErrorBody(t, resp, http.StatusMethodNotAllowed, coderclaw.CodeInvalid)
		if !strings.Contains(e.Message, "method "+tc.method+" is not allowed") {
			t.Errorf("%s %s: message %q", tc.method, tc.path, e.Message)
		}
	}
}

// TestErrorMapping checks each code's status and that the Client reads the
// same *coderclaw.Error back.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	want := map[coderclaw.Code]int{
		coderclaw.CodeInvalid: 400, coderclaw.CodeUnauthenticated: 401, coderclaw.CodeForbidden: 403,
		coderclaw.CodeNotFound: 404, coderclaw.CodeConflict: 409, coderclaw.CodeInternal: 500,
		coderclaw.CodeUnavailable: 503,
	}
	hc := rawClient(t)
	for _, code := range coderclaw.Codes() {
		sent := coderclaw.Errorf(code, "the %s thing", code)
		base, _ := serve(t, NewHandler(fixedRuntime{fmt.Errorf("wrapped: %w", sent)}, HandlerOptions{}))
		resp, err := hc.Get(base + "/api/runtime/status")
		if err != nil {
			t.Fatal(err)
		}
		got := wantErrorBody(t, resp, want[code], code)
		if got.Message != sent.Message {
			t.Errorf("%s: message %q, want %q", code, got.Message, sent.Message)
		}
		c := newClient(t, base)
		for name, call := range map[string]func() error{
			"Status": func() error { _, err := c.Status(testCtx(t)); return err },
			"Submit": func() error {
				_, err := c.Submit(testCtx(t), coderclaw.SubmitRequest{Input: "x", AgentID: "noop"})
				return err
			},
			"Tasks":  func() error { _, err := c.Tasks(testCtx(t), coderclaw.Filter{}); return err },
			"Task":   func() error { _, err := c.Task(testCtx(t), "a/b c"); return err },
			"Cancel": func() error { _, err := c.Cancel(testCtx(t), "x"); return err },
			"Stream": func() error {
				for _, err := range c.Stream(testCtx(t), "x", 0) {
					return err
				}
				return nil
			},
		} {
			err := call()
			var ce *coderclaw.Error
			if !errors.As(err, &ce) || *ce != *sent {
				t.Errorf("%s: client %s got %v, want %v", code, name, err, sent)
			}
		}
	}
}

// TestInternalCauseNotSent checks that an internal error's cause is logged
// and that only a generic message crosses the wire.
func TestInternalCauseNotSent(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	cause := errors.New("dial db: password=hunter2")
	base, _ := serve(t, NewHandler(fixedRuntime{fmt.Errorf("list tasks: %w", cause)}, HandlerOptions{Logger: slog.New(logs)}))
	resp, err := rawClient(t).Get(base + "/api/runtime/tasks")
	if err != nil {
		t.Fatal(err)
	}
	e := wantErrorBody(t, resp, 500, coderclaw.CodeInternal)
	if strings.Contains(e.Message, "hunter2") || e.Message != "internal error" {
		t.Errorf("message %q leaks the cause", e.Message)
	}
	if !strings.Contains(logs.text(), "hunter2") {
		t.Errorf("cause not logged; logs:\n%s", logs.text())
	}
}

// TestClientUnavailable checks the error when nothing listens.
func TestClientUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, "http://"+addr)
	want := "no CoderClaw node answers at http://" + addr + ": connection refused"
	_, err = c.Status(testCtx(t))
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnavailable || ce.Message != want {
		t.Fatalf("got %v, want unavailable %q", err, want)
	}
	n := 0
	for _, err := range c.Stream(testCtx(t), "x", 0) {
		n++
		if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnavailable || ce.Message != want {
			t.Errorf("stream: got %v, want unavailable %q", err, want)
		}
	}
	if n != 1 {
		t.Errorf("stream yielded %d items, want 1 error", n)
	}
}

// TestClientForeignErrorBody checks answers that are not this package's
// error shape (a proxy's page).
func TestClientForeignErrorBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		code   coderclaw.Code
	}{
		{502, "<html>Bad Gateway</html>", coderclaw.CodeUnavailable},
		{404, "404 page not found", coderclaw.CodeNotFound},
		{401, `{"error":"token expired"}`, coderclaw.CodeUnauthenticated},
		{500, `{"error":{"code":"weird","message":"x"}}`, coderclaw.CodeInternal},
		{418, "", coderclaw.CodeInvalid},
	} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		})
		base, _ := serve(t, h)
		c := newClient(t, base)
		_, err := c.Agents(testCtx(t))
		var ce *coderclaw.Error
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("%d %q: got %v, want code %s", tc.status, tc.body, err, tc.code)
			continue
		}
		if want := fmt.Sprintf("answered %d %s", tc.status, http.StatusText(tc.status)); !strings.Contains(ce.Message, want) {
			t.Errorf("%d: message %q does not name the status", tc.status, ce.Message)
		}
	}
}

func TestNewClientRejects(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:7420", "ftp://x", "http://", "http://h/?q=1", "http://u:p@h/", "://x"} {
		if _, err := NewClient(u); coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
			t.Errorf("NewClient(%q): %v, want invalid", u, err)
		}
	}
	c, err := NewClient("http://127.0.0.1:7420/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.url(taskPath("a/b")+"/state", nil); got != "http://127.0.0.1:7420/prefix/api/runtime/tasks/a%2Fb/state" {
		t.Errorf("url %q", got)
	}
}

func TestVersionHeader(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, NewHandler(fixedRuntime{errReached}, HandlerOptions{Version: "1.2.3"}))
	resp, err := rawClient(t).Get(base + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Header.Get("X-Coderclaw-Version"); v != "1.2.3" {
		t.Errorf("version header %q", v)
	}
	wantErrorBody(t, resp, 404, coderclaw.CodeNotFound)
}
