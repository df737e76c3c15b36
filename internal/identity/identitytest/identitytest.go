// Package identitytest is the conformance suite of idstore.Store (the
// identity records). Every backend runs it from its own tests:
//
//	func TestIdentities(t *testing.T) {
//		identitytest.Exercise(t, func(t *testing.T) idstore.Store { ... a new, empty store ... })
//	}
//
// Each subtest gets a new, empty store from newStore (which should close
// it in t.Cleanup) and runs in parallel with the others. Times are whole
// milliseconds in UTC, so a backend needs microsecond precision only.
//
// Beyond the doc comments of idstore.Store the suite pins down: lists are
// oldest first (by id; the ids here are UUIDv7) and users by name; a
// duplicate is a conflict, an unknown reference not_found and a record the
// store cannot hold invalid, all *coderclaw.Error; revoking twice keeps the
// first time; touching never moves a time backwards; a request refused in
// a batch of concurrent writes leaves the others applied; a context that
// has ended stops a write before it is applied.
package identitytest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/identity/idstore"
)

// epoch is where every test's clock starts.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Exercise runs the conformance suite against the stores newStore makes.
func Exercise(t *testing.T, newStore func(t *testing.T) idstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Users", testUsers},
		{"UserConflicts", testUserConflicts},
		{"UpdateUser", testUpdateUser},
		{"Tokens", testTokens},
		{"TokenConflicts", testTokenConflicts},
		{"RevokeToken", testRevokeToken},
		{"TouchToken", testTouchToken},
		{"Devices", testDevices},
		{"DeviceTrust", testDeviceTrust},
		{"Sessions", testSessions},
		{"SessionReferences", testSessionReferences},
		{"RevokeSession", testRevokeSession},
		{"NotFound", testNotFound},
		{"Concurrent", testConcurrent},
		{"ContextDone", testContextDone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &harness{t: t, s: newStore(t), ctx: t.Context(), now: epoch})
		})
	}
}

// harness is one subtest's store with its clock.
type harness struct {
	t   *testing.T
	s   idstore.Store
	ctx context.Context

	mu  sync.Mutex
	now time.Time
}

// tick moves the clock one millisecond forward and returns it.
func (h *harness) tick() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(time.Millisecond)
	return h.now
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func newHash() idstore.Hash {
	var b idstore.Hash
	_, _ = rand.Read(b[:])
	return b
}

func ptr[T any](v T) *T { return &v }

// user stores a new user.
func (h *harness) user(name string, roles ...string) idstore.User {
	h.t.Helper()
	u := idstore.User{ID: newID(), Name: name, Roles: roles, CreatedAt: h.tick()}
	if err := h.s.CreateUser(h.ctx, u); err != nil {
		h.t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

// token stores a new token of u and returns it with its hash.
func (h *harness) token(u idstore.User, name string, expires *time.Time) (idstore.Token, idstore.Hash) {
	h.t.Helper()
	tk := idstore.Token{ID: newID(), UserID: u.ID, Name: name, Prefix: "ccw_" + name[:min(8, len(name))],
		CreatedAt: h.tick(), ExpiresAt: expires}
	hash := newHash()
	if err := h.s.CreateToken(h.ctx, tk, hash); err != nil {
		h.t.Fatalf("CreateToken %s: %v", name, err)
	}
	return tk, hash
}

// device stores a new device of u.
func (h *harness) device(u idstore.User, name string, trust idstore.Trust) idstore.Device {
	h.t.Helper()
	now := h.tick()
	d := idstore.Device{ID: newID(), UserID: u.ID, Name: name, Trust: trust, CreatedAt: now, LastSeenAt: now}
	if err := h.s.CreateDevice(h.ctx, d); err != nil {
		h.t.Fatalf("CreateDevice %s: %v", name, err)
	}
	return d
}

// session stores a new session of u and returns it with its hash.
func (h *harness) session(u idstore.User, deviceID string, roles ...string) (idstore.Session, idstore.Hash) {
	h.t.Helper()
	now := h.tick()
	s := idstore.Session{ID: newID(), UserID: u.ID, DeviceID: deviceID, Roles: roles, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	hash := newHash()
	if err := h.s.CreateSession(h.ctx, s, hash); err != nil {
		h.t.Fatalf("CreateSession: %v", err)
	}
	return s, hash
}

// same fails the test unless got and want have the same JSON form (times
// in UTC, so the same instant prints the same).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// wantCode fails the test unless err is a *coderclaw.Error with the code.
func wantCode(t *testing.T, what string, err error, code coderclaw.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	if got := coderclaw.ErrorCode(err); got != code {
		t.Errorf("%s: %v (code %s), want code %s", what, err, got, code)
	}
}

func testUsers(t *testing.T, h *harness) {
	bob := h.user("bob", "developer")
	alice := h.user("alice", "admin", "developer")
	got, err := h.s.User(h.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "User", got, alice)
	got, err = h.s.UserByName(h.ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "UserByName", got, bob)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt in %s, want UTC", got.CreatedAt.Location())
	}
	all, err := h.s.Users(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Users (by name)", all, []idstore.User{alice, bob})
}

func testUserConflicts(t *testing.T, h *harness) {
	bob := h.user("bob", "developer")
	err := h.s.CreateUser(h.ctx, idstore.User{ID: newID(), Name: "bob", Roles: []string{"ci"}, CreatedAt: h.tick()})
	wantCode(t, "duplicate name", err, coderclaw.CodeConflict)
	err = h.s.CreateUser(h.ctx, idstore.User{ID: bob.ID, Name: "other", Roles: []string{"ci"}, CreatedAt: h.tick()})
	wantCode(t, "duplicate id", err, coderclaw.CodeConflict)
	err = h.s.CreateUser(h.ctx, idstore.User{Name: "noid", CreatedAt: h.tick()})
	wantCode(t, "empty id", err, coderclaw.CodeInvalid)
	all, err := h.s.Users(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Users after refusals", all, []idstore.User{bob})
}

func testUpdateUser(t *testing.T, h *harness) {
	bob := h.user("bob", "developer")
	want := bob
	want.Roles, want.Disabled = []string{"ci", "readonly"}, true
	// Name and CreatedAt never change.
	in := want
	in.Name, in.CreatedAt = "robert", h.tick()
	got, err := h.s.UpdateUser(h.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "UpdateUser", got, want)
	got, err = h.s.User(h.ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "User after update", got, want)
	want.Disabled = false
	if got, err = h.s.UpdateUser(h.ctx, want); err != nil {
		t.Fatal(err)
	}
	same(t, "re-enabled", got, want)
	_, err = h.s.UpdateUser(h.ctx, idstore.User{ID: newID(), Name: "ghost"})
	wantCode(t, "UpdateUser unknown", err, coderclaw.CodeNotFound)
}

func testTokens(t *testing.T, h *harness) {
	alice, bob := h.user("alice", "admin"), h.user("bob", "developer")
	exp := epoch.Add(24 * time.Hour)
	a1, a1h := h.token(alice, "laptop", &exp)
	b1, b1h := h.token(bob, "ci", nil)
	a2, _ := h.token(alice, "script", nil)

	got, err := h.s.Token(h.ctx, a1.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Token", got, a1)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, exp)
	}
	list, err := h.s.Tokens(h.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Tokens(alice)", list, []idstore.Token{a1, a2})
	list, err = h.s.Tokens(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Tokens(all)", list, []idstore.Token{a1, b1, a2})
	list, err = h.s.Tokens(h.ctx, newID())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("Tokens(unknown user) = %v, want none", list)
	}

	tk, u, err := h.s.LookupToken(h.ctx, a1h)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "LookupToken token", tk, a1)
	same(t, "LookupToken user", u, alice)
	tk, u, err = h.s.LookupToken(h.ctx, b1h)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "LookupToken token", tk, b1)
	same(t, "LookupToken user", u, bob)
	_, _, err = h.s.LookupToken(h.ctx, newHash())
	wantCode(t, "LookupToken unknown", err, coderclaw.CodeNotFound)

	// A revoked or disabled one is still returned: judging is the caller's.
	if _, err := h.s.RevokeToken(h.ctx, b1.ID, h.tick()); err != nil {
		t.Fatal(err)
	}
	bob.Disabled = true
	if _, err := h.s.UpdateUser(h.ctx, bob); err != nil {
		t.Fatal(err)
	}
	tk, u, err = h.s.LookupToken(h.ctx, b1h)
	if err != nil {
		t.Fatal(err)
	}
	if tk.RevokedAt == nil || !u.Disabled {
		t.Errorf("LookupToken of revoked token of disabled user: revoked_at %v, disabled %v", tk.RevokedAt, u.Disabled)
	}
}

func testTokenConflicts(t *testing.T, h *harness) {
	alice := h.user("alice", "admin")
	a1, a1h := h.token(alice, "one", nil)
	err := h.s.CreateToken(h.ctx, idstore.Token{ID: newID(), UserID: alice.ID, Name: "two", Prefix: "ccw_x", CreatedAt: h.tick()}, a1h)
	wantCode(t, "duplicate hash", err, coderclaw.CodeConflict)
	err = h.s.CreateToken(h.ctx, idstore.Token{ID: a1.ID, UserID: alice.ID, Name: "three", Prefix: "ccw_x", CreatedAt: h.tick()}, newHash())
	wantCode(t, "duplicate id", err, coderclaw.CodeConflict)
	err = h.s.CreateToken(h.ctx, idstore.Token{ID: newID(), UserID: newID(), Name: "orphan", Prefix: "ccw_x", CreatedAt: h.tick()}, newHash())
	wantCode(t, "unknown user", err, coderclaw.CodeNotFound)
	err = h.s.CreateToken(h.ctx, idstore.Token{UserID: alice.ID, Name: "noid", Prefix: "ccw_x", CreatedAt: h.tick()}, newHash())
	wantCode(t, "empty id", err, coderclaw.CodeInvalid)
	list, err := h.s.Tokens(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Tokens after refusals", list, []idstore.Token{a1})
}

func testRevokeToken(t *testing.T, h *harness) {
	alice := h.user("alice", "admin")
	tk, _ := h.token(alice, "one", nil)
	at := h.tick()
	got, err := h.s.RevokeToken(h.ctx, tk.ID, at)
	if err != nil {
		t.Fatal(err)
	}
	want := tk
	want.RevokedAt = ptr(at)
	same(t, "RevokeToken", got, want)
	// Revoking again keeps the first time.
	got, err = h.s.RevokeToken(h.ctx, tk.ID, h.tick())
	if err != nil {
		t.Fatal(err)
	}
	same(t, "RevokeToken again", got, want)
	got, err = h.s.Token(h.ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Token after revoke", got, want)
	_, err = h.s.RevokeToken(h.ctx, newID(), h.tick())
	wantCode(t, "RevokeToken unknown", err, coderclaw.CodeNotFound)
}

func testTouchToken(t *testing.T, h *harness) {
	alice := h.user("alice", "admin")
	tk, hash := h.token(alice, "one", nil)
	early, late := h.tick(), h.tick()
	if err := h.s.TouchToken(h.ctx, tk.ID, late); err != nil {
		t.Fatal(err)
	}
	if err := h.s.TouchToken(h.ctx, tk.ID, early); err != nil { // never backwards
		t.Fatal(err)
	}
	got, _, err := h.s.LookupToken(h.ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(late) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, late)
	}
	err = h.s.TouchToken(h.ctx, newID(), h.tick())
	wantCode(t, "TouchToken unknown", err, coderclaw.CodeNotFound)
}

func testDevices(t *testing.T, h *harness) {
	alice, bob := h.user("alice", "admin"), h.user("bob", "developer")
	d1 := h.device(alice, "laptop", idstore.TrustTrusted)
	d2 := h.device(bob, "laptop", idstore.TrustUntrusted) // names are per user
	d3 := h.device(alice, "Ana's phone", idstore.TrustVerified)

	got, err := h.s.Device(h.ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Device", got, d1)
	list, err := h.s.Devices(h.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Devices(alice)", list, []idstore.Device{d1, d3})
	list, err = h.s.Devices(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Devices(all)", list, []idstore.Device{d1, d2, d3})

	err = h.s.CreateDevice(h.ctx, idstore.Device{ID: newID(), UserID: alice.ID, Name: "laptop", Trust: idstore.TrustUntrusted, CreatedAt: h.tick()})
	wantCode(t, "duplicate name", err, coderclaw.CodeConflict)
	err = h.s.CreateDevice(h.ctx, idstore.Device{ID: d1.ID, UserID: alice.ID, Name: "other", Trust: idstore.TrustUntrusted, CreatedAt: h.tick()})
	wantCode(t, "duplicate id", err, coderclaw.CodeConflict)
	err = h.s.CreateDevice(h.ctx, idstore.Device{ID: newID(), UserID: newID(), Name: "orphan", Trust: idstore.TrustUntrusted, CreatedAt: h.tick()})
	wantCode(t, "unknown user", err, coderclaw.CodeNotFound)
	err = h.s.CreateDevice(h.ctx, idstore.Device{ID: newID(), UserID: alice.ID, Name: "odd", Trust: "sort of", CreatedAt: h.tick()})
	wantCode(t, "unknown trust", err, coderclaw.CodeInvalid)

	// A zero LastSeenAt starts at CreatedAt.
	now := h.tick()
	d4 := idstore.Device{ID: newID(), UserID: bob.ID, Name: "desk", Trust: idstore.TrustVerified, CreatedAt: now}
	if err := h.s.CreateDevice(h.ctx, d4); err != nil {
		t.Fatal(err)
	}
	got, err = h.s.Device(h.ctx, d4.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeenAt.Equal(now) {
		t.Errorf("LastSeenAt = %v, want CreatedAt %v", got.LastSeenAt, now)
	}

	early, late := h.tick(), h.tick()
	if err := h.s.TouchDevice(h.ctx, d1.ID, late); err != nil {
		t.Fatal(err)
	}
	if err := h.s.TouchDevice(h.ctx, d1.ID, early); err != nil {
		t.Fatal(err)
	}
	got, err = h.s.Device(h.ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeenAt.Equal(late) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, late)
	}
	wantCode(t, "TouchDevice unknown", h.s.TouchDevice(h.ctx, newID(), h.tick()), coderclaw.CodeNotFound)
}

func testDeviceTrust(t *testing.T, h *harness) {
	alice := h.user("alice", "admin")
	d := h.device(alice, "laptop", idstore.TrustUntrusted)
	for _, trust := range []idstore.Trust{idstore.TrustVerified, idstore.TrustTrusted, idstore.TrustUntrusted} {
		got, err := h.s.SetDeviceTrust(h.ctx, d.ID, trust)
		if err != nil {
			t.Fatal(err)
		}
		want := d
		want.Trust = trust
		same(t, "SetDeviceTrust", got, want)
		if got, err = h.s.Device(h.ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		same(t, "Device after SetDeviceTrust", got, want)
	}
	_, err := h.s.SetDeviceTrust(h.ctx, d.ID, "total")
	wantCode(t, "SetDeviceTrust invalid", err, coderclaw.CodeInvalid)
	_, err = h.s.SetDeviceTrust(h.ctx, newID(), idstore.TrustTrusted)
	wantCode(t, "SetDeviceTrust unknown", err, coderclaw.CodeNotFound)
}

func testSessions(t *testing.T, h *harness) {
	alice, bob := h.user("alice", "admin", "developer"), h.user("bob", "developer")
	d := h.device(alice, "laptop", idstore.TrustTrusted)
	s1, s1h := h.session(alice, d.ID, "developer")
	s2, _ := h.session(bob, "", "developer")
	s3, _ := h.session(alice, "", "admin", "developer")

	got, err := h.s.Session(h.ctx, s1.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Session", got, s1)
	list, err := h.s.Sessions(h.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Sessions(alice)", list, []idstore.Session{s1, s3})
	list, err = h.s.Sessions(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Sessions(all)", list, []idstore.Session{s1, s2, s3})

	gs, gu, err := h.s.LookupSession(h.ctx, s1h)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "LookupSession session", gs, s1)
	same(t, "LookupSession user", gu, alice)
	_, _, err = h.s.LookupSession(h.ctx, newHash())
	wantCode(t, "LookupSession unknown", err, coderclaw.CodeNotFound)

	now := h.tick()
	err = h.s.CreateSession(h.ctx, idstore.Session{ID: newID(), UserID: bob.ID, Roles: []string{"developer"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, s1h)
	wantCode(t, "duplicate hash", err, coderclaw.CodeConflict)
	err = h.s.CreateSession(h.ctx, idstore.Session{ID: s2.ID, UserID: bob.ID, Roles: []string{"developer"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, newHash())
	wantCode(t, "duplicate id", err, coderclaw.CodeConflict)
}

func testSessionReferences(t *testing.T, h *harness) {
	alice, bob := h.user("alice", "admin"), h.user("bob", "developer")
	d := h.device(alice, "laptop", idstore.TrustTrusted)
	now := h.tick()
	for _, tc := range []struct {
		name string
		s    idstore.Session
		code coderclaw.Code
	}{
		{"unknown user", idstore.Session{ID: newID(), UserID: newID()}, coderclaw.CodeNotFound},
		{"unknown device", idstore.Session{ID: newID(), UserID: alice.ID, DeviceID: newID()}, coderclaw.CodeNotFound},
		{"another user's device", idstore.Session{ID: newID(), UserID: bob.ID, DeviceID: d.ID}, coderclaw.CodeNotFound},
		{"empty id", idstore.Session{UserID: alice.ID}, coderclaw.CodeInvalid},
	} {
		tc.s.Roles, tc.s.CreatedAt, tc.s.ExpiresAt = []string{"developer"}, now, now.Add(time.Hour)
		wantCode(t, tc.name, h.s.CreateSession(h.ctx, tc.s, newHash()), tc.code)
	}
	list, err := h.s.Sessions(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("Sessions after refusals = %v, want none", list)
	}
}

func testRevokeSession(t *testing.T, h *harness) {
	alice := h.user("alice", "admin")
	s, hash := h.session(alice, "", "admin")
	at := h.tick()
	got, err := h.s.RevokeSession(h.ctx, s.ID, at)
	if err != nil {
		t.Fatal(err)
	}
	want := s
	want.RevokedAt = ptr(at)
	same(t, "RevokeSession", got, want)
	got, err = h.s.RevokeSession(h.ctx, s.ID, h.tick())
	if err != nil {
		t.Fatal(err)
	}
	same(t, "RevokeSession again", got, want)
	got, _, err = h.s.LookupSession(h.ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "LookupSession after revoke", got, want)
	_, err = h.s.RevokeSession(h.ctx, newID(), h.tick())
	wantCode(t, "RevokeSession unknown", err, coderclaw.CodeNotFound)
}

func testNotFound(t *testing.T, h *harness) {
	id := newID()
	_, err := h.s.User(h.ctx, id)
	wantCode(t, "User", err, coderclaw.CodeNotFound)
	_, err = h.s.UserByName(h.ctx, "nobody")
	wantCode(t, "UserByName", err, coderclaw.CodeNotFound)
	_, err = h.s.Token(h.ctx, id)
	wantCode(t, "Token", err, coderclaw.CodeNotFound)
	_, err = h.s.Device(h.ctx, id)
	wantCode(t, "Device", err, coderclaw.CodeNotFound)
	_, err = h.s.Session(h.ctx, id)
	wantCode(t, "Session", err, coderclaw.CodeNotFound)
	for name, list := range map[string]func() (int, error){
		"Users":    func() (int, error) { l, err := h.s.Users(h.ctx); return len(l), err },
		"Tokens":   func() (int, error) { l, err := h.s.Tokens(h.ctx, ""); return len(l), err },
		"Devices":  func() (int, error) { l, err := h.s.Devices(h.ctx, ""); return len(l), err },
		"Sessions": func() (int, error) { l, err := h.s.Sessions(h.ctx, ""); return len(l), err },
	} {
		if n, err := list(); err != nil || n != 0 {
			t.Errorf("%s of an empty store: %d, %v; want 0, nil", name, n, err)
		}
	}
}

// testConcurrent writes from many goroutines at once, with refusals
// (duplicate names) mixed in: every refused request must fail alone.
func testConcurrent(t *testing.T, h *harness) {
	const workers, each = 8, 10
	var wg sync.WaitGroup
	var created, conflicts atomic.Int64
	hashes := make([][]idstore.Hash, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Every worker tries the same names; one wins each.
				name := fmt.Sprintf("user%d", i)
				u := idstore.User{ID: newID(), Name: name, Roles: []string{"developer"}, CreatedAt: h.tick()}
				err := h.s.CreateUser(h.ctx, u)
				if coderclaw.ErrorCode(err) == coderclaw.CodeConflict {
					conflicts.Add(1)
					if u, err = h.s.UserByName(h.ctx, name); err != nil {
						t.Error(err)
						return
					}
				} else if err != nil {
					t.Error(err)
					return
				} else {
					created.Add(1)
				}
				hash := newHash()
				tk := idstore.Token{ID: newID(), UserID: u.ID, Name: fmt.Sprintf("w%d", w), Prefix: "ccw_x", CreatedAt: h.tick()}
				if err := h.s.CreateToken(h.ctx, tk, hash); err != nil {
					t.Error(err)
					return
				}
				hashes[w] = append(hashes[w], hash)
				if _, gu, err := h.s.LookupToken(h.ctx, hash); err != nil || gu.ID != u.ID {
					t.Errorf("LookupToken: user %s, %v; want %s", gu.ID, err, u.ID)
				}
			}
		})
	}
	wg.Wait()
	if created.Load() != each || conflicts.Load() != (workers-1)*each {
		t.Errorf("created %d users with %d conflicts, want %d and %d", created.Load(), conflicts.Load(), each, (workers-1)*each)
	}
	users, err := h.s.Users(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := h.s.Tokens(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != each || len(tokens) != workers*each {
		t.Errorf("%d users and %d tokens, want %d and %d", len(users), len(tokens), each, workers*each)
	}
	for _, hs := range hashes {
		for _, hash := range hs {
			if _, _, err := h.s.LookupToken(h.ctx, hash); err != nil {
				t.Errorf("LookupToken after the writes: %v", err)
			}
		}
	}
}

func testContextDone(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	u := idstore.User{ID: newID(), Name: "late", Roles: []string{"developer"}, CreatedAt: h.tick()}
	if err := h.s.CreateUser(ctx, u); err == nil {
		t.Fatal("CreateUser with an ended context succeeded")
	}
	users, err := h.s.Users(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(users, func(x idstore.User) bool { return x.Name == "late" }) {
		t.Error("a write with an ended context was applied")
	}
}
