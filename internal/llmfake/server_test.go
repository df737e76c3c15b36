package llmfake

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recordingT captures Errorf so a test can check that the fake fails the
// test it serves.
type recordingT struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingT) logged() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func TestBeyondScript(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		new  func(testing.TB, ...Turn) *Server
		path string
		want string
	}{
		{"anthropic", NewAnthropic, "/v1/messages", `"type":"api_error"`},
		{"openai", NewOpenAI, "/chat/completions", `"type":"server_error"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := &recordingT{TB: t}
			s := tc.new(rt, Turn{Text: "only"})
			if code, _ := post(t, s.URL()+tc.path, `{"model":"m"}`); code != http.StatusOK {
				t.Fatalf("first status = %d", code)
			}
			if len(rt.logged()) != 0 {
				t.Fatalf("errors after scripted turn: %q", rt.logged())
			}
			code, body := post(t, s.URL()+tc.path, `{"model":"m"}`)
			if code != http.StatusInternalServerError || !strings.Contains(body, tc.want) || !strings.Contains(body, "beyond the script") {
				t.Errorf("beyond script: %d %s", code, body)
			}
			if errs := rt.logged(); len(errs) != 1 || !strings.Contains(errs[0], "request 2 is beyond the script of 1 turn(s)") {
				t.Errorf("test errors = %q", errs)
			}
			if n := len(s.Requests()); n != 2 {
				t.Errorf("requests = %d", n)
			}
		})
	}
}

func TestErrorTurnWire(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, Turn{Status: http.StatusTooManyRequests, RetryAfter: "7", Text: "slow down"})
	res, err := http.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	want := `{"error":{"message":"slow down","type":"rate_limit_error"},"type":"error"}`
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "7" || string(b) != want {
		t.Errorf("got %d retry-after %q body %s", res.StatusCode, res.Header.Get("Retry-After"), b)
	}
}

func TestUnexpectedRequests(t *testing.T) {
	t.Parallel()
	rt := &recordingT{TB: t}
	s := NewAnthropic(rt, Turn{Text: "never"})
	if code, _ := post(t, s.URL()+"/v1/complete", `{}`); code != http.StatusNotFound {
		t.Errorf("wrong path status = %d", code)
	}
	if code, _ := post(t, s.URL()+"/v1/messages", `not json`); code != http.StatusBadRequest {
		t.Errorf("bad body status = %d", code)
	}
	if errs := rt.logged(); len(errs) != 2 {
		t.Errorf("test errors = %q", errs)
	}
	if s.Remaining() != 1 {
		t.Errorf("remaining = %d, bad requests must not consume turns", s.Remaining())
	}
}

func TestJSONPieces(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "{}", `{"a":"é"}`, `{"city":"Paris","unit":"celsius"}`} {
		ps := jsonPieces(s, 3)
		if strings.Join(ps, "") != s || len(ps) > 3 {
			t.Errorf("jsonPieces(%q) = %q", s, ps)
		}
		if len(s) >= 3 && len(ps) != 3 {
			t.Errorf("jsonPieces(%q) = %d pieces, want 3", s, len(ps))
		}
	}
}
