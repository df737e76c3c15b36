package login_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/login"
)

// answerTransport answers GitHub's endpoints in memory: a fixed device
// code, the fuzzed token answer, a fixed user.
type answerTransport struct{ token []byte }

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	body := `{"login":"octocat"}`
	switch r.URL.Path {
	case "/login/device/code":
		body = `{"device_code":"d","user_code":"U","verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}`
	case "/login/oauth/access_token":
		body = string(a.token)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// FuzzGitHubTokenAnswer feeds arbitrary token answers from GitHub through
// a poll: the node must answer with one of its documented statuses and a
// JSON body, whatever GitHub says.
func FuzzGitHubTokenAnswer(f *testing.F) {
	f.Add([]byte(`{"access_token":"gho_x","token_type":"bearer","scope":""}`))
	f.Add([]byte(`{"error":"slow_down","interval":10}`))
	f.Add([]byte(`{"error":"authorization_pending"}`))
	f.Add([]byte(`{"error":"expired_token"}`))
	f.Add([]byte(`not json`))
	users := fuzzUsers{}
	f.Fuzz(func(t *testing.T, token []byte) {
		p, err := login.NewGitHub(login.GitHubConfig{
			ClientID: "c", UserMapping: login.UserMapping{AutoCreate: true, AutoCreateRoles: []string{"readonly"}},
			HTTPClient: &http.Client{Transport: answerTransport{token: token}},
			Now:        func() time.Time { return time.Unix(1e9, 0) },
		})
		if err != nil {
			t.Fatal(err)
		}
		h, err := login.NewHandler(login.Config{Users: users, Providers: []login.Provider{p}})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/auth/github/device", nil))
		var ds login.DeviceStart
		if err := json.Unmarshal(rec.Body.Bytes(), &ds); err != nil || ds.DeviceID == "" {
			t.Fatalf("device start: %d %s", rec.Code, rec.Body)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/auth/github/poll", strings.NewReader(`{"device_id":"`+ds.DeviceID+`"}`)))
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusUnauthorized, http.StatusServiceUnavailable:
		default:
			t.Fatalf("poll answered %d %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("poll answer is not JSON: %s", rec.Body)
		}
	})
}
