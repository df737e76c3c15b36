package login_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeGitHub speaks GitHub's device-flow wire format: form-encoded POSTs
// to /login/device/code and /login/oauth/access_token answered in JSON
// (GitHub answers OAuth errors with status 200 and an error field), and
// GET /user with a bearer token. It issues one device code whose polls
// are answered from a script, and counts the token requests.
type fakeGitHub struct {
	t        *testing.T
	clientID string
	login    string // the account that signs in

	mu       sync.Mutex
	script   []string // the answers to token requests, in order: an OAuth error code or "ok"
	polls    int
	interval int // seconds, as the device code answer and slow_down carry it
}

const (
	fakeDeviceCode  = "3584d83530557fdd1f46af8289938c8ef79f9dc5"
	fakeUserCode    = "WDJB-MJHT"
	fakeAccessToken = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
)

func newFakeGitHub(t *testing.T, login string, script ...string) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{t: t, clientID: "Iv1.8a61f9b3a7aba766", login: login, script: script, interval: 5}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/device/code", f.deviceCode)
	mux.HandleFunc("POST /login/oauth/access_token", f.accessToken)
	mux.HandleFunc("GET /user", f.user)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitHub) Polls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

// form checks a request the way GitHub needs it and returns its form.
func (f *fakeGitHub) form(w http.ResponseWriter, r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		f.t.Errorf("%s: Content-Type %q, want a form", r.URL.Path, r.Header.Get("Content-Type"))
	}
	if r.Header.Get("Accept") != "application/json" {
		// GitHub answers form-encoded without it.
		f.t.Errorf("%s: Accept %q, want application/json", r.URL.Path, r.Header.Get("Accept"))
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	if r.PostForm.Get("client_id") != f.clientID {
		f.json(w, map[string]any{"error": "incorrect_client_credentials", "error_description": "The client_id is not valid."})
		return false
	}
	return true
}

func (f *fakeGitHub) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) deviceCode(w http.ResponseWriter, r *http.Request) {
	if !f.form(w, r) {
		return
	}
	f.mu.Lock()
	interval := f.interval
	f.mu.Unlock()
	f.json(w, map[string]any{
		"device_code": fakeDeviceCode, "user_code": fakeUserCode,
		"verification_uri": "https://github.com/login/device", "expires_in": 900, "interval": interval,
	})
}

func (f *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if !f.form(w, r) {
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:device_code" {
		f.json(w, map[string]any{"error": "unsupported_grant_type", "error_description": "bad grant type " + g})
		return
	}
	if r.PostForm.Get("device_code") != fakeDeviceCode {
		f.json(w, map[string]any{"error": "incorrect_device_code", "error_description": "The device_code provided is not valid."})
		return
	}
	f.mu.Lock()
	f.polls++
	answer := "authorization_pending"
	if len(f.script) > 0 {
		answer, f.script = f.script[0], f.script[1:]
	}
	if answer == "slow_down" {
		f.interval += 5
	}
	interval := f.interval
	f.mu.Unlock()
	switch answer {
	case "ok":
		f.json(w, map[string]any{"access_token": fakeAccessToken, "token_type": "bearer", "scope": ""})
	case "slow_down":
		f.json(w, map[string]any{"error": answer, "error_description": "Too many requests have been made in the same timeframe.",
			"error_uri": "https://docs.github.com", "interval": interval})
	default:
		f.json(w, map[string]any{"error": answer, "error_description": fmt.Sprintf("device flow: %s", answer),
			"error_uri": "https://docs.github.com"})
	}
}

func (f *fakeGitHub) user(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fakeAccessToken {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`))
		return
	}
	f.json(w, map[string]any{"login": f.login, "id": 583231, "type": "User"})
}
