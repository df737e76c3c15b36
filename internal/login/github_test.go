package login_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/login"
)

// githubEnv is a node serving the GitHub routes in front of a fake GitHub.
type githubEnv struct {
	gh     *fakeGitHub
	clock  *clock
	srv    string
	client *http.Client
}

func newGitHubEnv(t *testing.T, users login.Users, m login.UserMapping, script ...string) *githubEnv {
	t.Helper()
	gh, ghsrv := newFakeGitHub(t, "octocat", script...)
	clk := newClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := serve(t, users, func(string) []login.Provider {
		p, err := login.NewGitHub(login.GitHubConfig{
			ClientID: gh.clientID, BaseURL: ghsrv.URL, APIURL: ghsrv.URL + "/",
			UserMapping: m, HTTPClient: newClient(t), Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return []login.Provider{p}
	})
	return &githubEnv{gh: gh, clock: clk, srv: srv.URL, client: newClient(t)}
}

func (e *githubEnv) post(t *testing.T, path, body string) *http.Response {
	t.Helper()
	resp, err := e.client.Post(e.srv+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (e *githubEnv) start(t *testing.T) login.DeviceStart {
	t.Helper()
	var ds login.DeviceStart
	decode(t, e.post(t, "/api/auth/github/device", ""), http.StatusOK, &ds)
	if ds.DeviceID == "" || ds.UserCode != fakeUserCode || ds.VerificationURI != "https://github.com/login/device" ||
		ds.ExpiresIn != 900 || ds.Interval != 5 {
		t.Fatalf("device start %+v", ds)
	}
	if ds.DeviceID == fakeDeviceCode {
		t.Fatal("the device id is GitHub's device code")
	}
	return ds
}

func (e *githubEnv) poll(t *testing.T, id string) *http.Response {
	t.Helper()
	return e.post(t, "/api/auth/github/poll", `{"device_id":"`+id+`"}`)
}

// wantPending checks a 202 answer, and that GitHub has seen polls polls.
func (e *githubEnv) wantPending(t *testing.T, id, status string, interval, polls int) {
	t.Helper()
	var p login.DevicePending
	decode(t, e.poll(t, id), http.StatusAccepted, &p)
	if p.Status != status || p.Interval != interval {
		t.Fatalf("pending %+v, want %s every %ds", p, status, interval)
	}
	if got := e.gh.Polls(); got != polls {
		t.Fatalf("GitHub saw %d polls, want %d", got, polls)
	}
}

func TestGitHubDeviceFlow(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	user := addUser(t, users, "octocat", "developer")
	e := newGitHubEnv(t, users, login.UserMapping{}, "authorization_pending", "slow_down", "ok")
	ds := e.start(t)

	e.wantPending(t, ds.DeviceID, login.StatusPending, 5, 1)
	// A poll before the interval is up does not reach GitHub.
	e.wantPending(t, ds.DeviceID, login.StatusSlowDown, 5, 1)
	e.clock.Advance(5 * time.Second)
	// GitHub asks for slower polls: the interval grows to what it says.
	e.wantPending(t, ds.DeviceID, login.StatusSlowDown, 10, 2)
	e.clock.Advance(5 * time.Second)
	e.wantPending(t, ds.DeviceID, login.StatusSlowDown, 10, 2)
	e.clock.Advance(5 * time.Second)

	res := wantSession(t, users, e.poll(t, ds.DeviceID), "github", "octocat")
	if res.User.ID != user.ID {
		t.Errorf("user %+v, want the existing %+v", res.User, user)
	}
	if e.gh.Polls() != 3 {
		t.Errorf("GitHub saw %d polls, want 3", e.gh.Polls())
	}
	// A device id is used once.
	wantError(t, e.poll(t, ds.DeviceID), http.StatusBadRequest, coderclaw.CodeInvalid)
}

func TestGitHubRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		answer  string
		status  int
		code    coderclaw.Code
		message string
	}{
		{"expired", "expired_token", http.StatusUnauthorized, coderclaw.CodeUnauthenticated, "expired"},
		{"denied", "access_denied", http.StatusUnauthorized, coderclaw.CodeUnauthenticated, "denied"},
		{"flow disabled", "device_flow_disabled", http.StatusServiceUnavailable, coderclaw.CodeUnavailable, "device_flow_disabled"},
		{"unknown user", "ok", http.StatusForbidden, coderclaw.CodeForbidden, `no CoderClaw user "octocat"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users := newUsers(t)
			e := newGitHubEnv(t, users, login.UserMapping{}, tc.answer)
			ds := e.start(t)
			err := wantError(t, e.poll(t, ds.DeviceID), tc.status, tc.code)
			if !strings.Contains(err.Message, tc.message) {
				t.Errorf("message %q lacks %q", err.Message, tc.message)
			}
			// The device code is spent.
			e.clock.Advance(time.Minute)
			wantError(t, e.poll(t, ds.DeviceID), http.StatusBadRequest, coderclaw.CodeInvalid)
			if e.gh.Polls() != 1 {
				t.Errorf("GitHub saw %d polls, want 1", e.gh.Polls())
			}
			if _, uerr := users.User(t.Context(), "octocat"); coderclaw.ErrorCode(uerr) != coderclaw.CodeNotFound {
				t.Errorf("user after a refused sign-in: %v, want not_found", uerr)
			}
		})
	}
}

func TestGitHubAutoCreate(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	e := newGitHubEnv(t, users, login.UserMapping{AutoCreate: true, AutoCreateRoles: []string{"readonly", "ci"}}, "ok")
	res := wantSession(t, users, e.poll(t, e.start(t).DeviceID), "github", "octocat")
	if strings.Join(res.User.Roles, ",") != "ci,readonly" {
		t.Errorf("created user %+v, want roles ci,readonly", res.User)
	}
}

func TestGitHubDeviceExpires(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "octocat", "developer")
	e := newGitHubEnv(t, users, login.UserMapping{}, "ok")
	ds := e.start(t)
	e.clock.Advance(900 * time.Second)
	wantError(t, e.poll(t, ds.DeviceID), http.StatusBadRequest, coderclaw.CodeInvalid)
	if e.gh.Polls() != 0 {
		t.Errorf("GitHub saw %d polls of an expired code, want 0", e.gh.Polls())
	}
}

func TestGitHubBadPoll(t *testing.T) {
	t.Parallel()
	e := newGitHubEnv(t, newUsers(t), login.UserMapping{})
	for _, body := range []string{``, `{`, `[]`, `{}`, `{"device_id":""}`, `{"device_id":"nope"}`, `{"device_id":7}`} {
		wantError(t, e.post(t, "/api/auth/github/poll", body), http.StatusBadRequest, coderclaw.CodeInvalid)
	}
	big := `{"device_id":"` + strings.Repeat("a", 8<<10) + `"}`
	wantError(t, e.post(t, "/api/auth/github/poll", big), http.StatusBadRequest, coderclaw.CodeInvalid)
	// Only POST is served.
	resp, err := e.client.Get(e.srv + "/api/auth/github/poll")
	if err != nil {
		t.Fatal(err)
	}
	if wantError(t, resp, http.StatusMethodNotAllowed, coderclaw.CodeInvalid); resp.Header.Get("Allow") != "POST" {
		t.Errorf("Allow %q, want POST", resp.Header.Get("Allow"))
	}
}

func TestGitHubWrongClient(t *testing.T) {
	t.Parallel()
	_, ghsrv := newFakeGitHub(t, "octocat")
	srv := serve(t, newUsers(t), func(string) []login.Provider {
		p, err := login.NewGitHub(login.GitHubConfig{ClientID: "wrong", BaseURL: ghsrv.URL, APIURL: ghsrv.URL, HTTPClient: newClient(t)})
		if err != nil {
			t.Fatal(err)
		}
		return []login.Provider{p}
	})
	resp, err := newClient(t).Post(srv.URL+"/api/auth/github/device", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := wantError(t, resp, http.StatusServiceUnavailable, coderclaw.CodeUnavailable)
	if !strings.Contains(e.Message, "incorrect_client_credentials") {
		t.Errorf("message %q lacks GitHub's error", e.Message)
	}
}
