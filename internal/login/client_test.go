package login_test

import (
	"errors"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/login"
)

func TestDeviceClient(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "octocat", "developer")
	e := newGitHubEnv(t, users, login.UserMapping{}, "authorization_pending", "slow_down", "ok")
	// Each wait moves the node's clock by what the client waits.
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		e.clock.Advance(d)
		ch := make(chan time.Time, 1)
		ch <- e.clock.Now()
		return ch
	}
	var shown login.DeviceStart
	c := login.DeviceClient{Node: e.srv, HTTPClient: e.client, After: after}
	res, err := c.Login(t.Context(), func(ds login.DeviceStart) { shown = ds })
	if err != nil {
		t.Fatal(err)
	}
	if shown.UserCode != fakeUserCode || res.User.Name != "octocat" || res.Token == "" {
		t.Fatalf("shown %+v, result %+v", shown, res)
	}
	if _, err := users.Authenticate(t.Context(), access.Credentials{Token: res.Token}); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second}
	if len(waits) != len(want) || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if e.gh.Polls() != 3 {
		t.Errorf("GitHub saw %d polls, want 3 (the client followed the intervals)", e.gh.Polls())
	}
}

func TestDeviceClientDenied(t *testing.T) {
	t.Parallel()
	e := newGitHubEnv(t, newUsers(t), login.UserMapping{}, "access_denied")
	immediately := func(time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	_, err := login.DeviceClient{Node: e.srv, HTTPClient: e.client, After: immediately}.Login(t.Context(), func(login.DeviceStart) {})
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnauthenticated {
		t.Fatalf("err %v, want unauthenticated", err)
	}
}
