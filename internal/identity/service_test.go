package identity_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a Service on a SQLite store in a temporary directory.
type env struct {
	t     testing.TB
	ctx   context.Context
	dir   string
	db    *sqlite.Store
	store *sqlite.Identities
	clock *clock
	svc   *identity.Service
}

// newEnv opens a store and a Service on it; cfg's Store and Now are set
// here. The store is closed at the end of the test.
func newEnv(t testing.TB, cfg identity.Config) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "coderclaw.db"), Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e := &env{t: t, ctx: t.Context(), dir: dir, db: db, store: db.Identities(), clock: newClock()}
	e.svc = e.service(cfg)
	return e
}

// service returns another Service on the env's store and clock (another
// node sharing the database).
func (e *env) service(cfg identity.Config) *identity.Service {
	e.t.Helper()
	cfg.Store, cfg.Now = e.store, e.clock.Now
	svc, err := identity.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) addUser(name string, roles ...string) identity.User {
	e.t.Helper()
	u, err := e.svc.AddUser(e.ctx, name, roles)
	if err != nil {
		e.t.Fatalf("AddUser %s: %v", name, err)
	}
	return u
}

func (e *env) createToken(user string, ttl time.Duration) (string, identity.Token) {
	e.t.Helper()
	secret, tk, err := e.svc.CreateToken(e.ctx, user, "test", ttl)
	if err != nil {
		e.t.Fatalf("CreateToken for %s: %v", user, err)
	}
	return secret, tk
}

func (e *env) auth(secret string) (coderclaw.Principal, error) {
	return e.svc.Authenticate(e.ctx, access.Credentials{Token: secret, RemoteAddr: "192.0.2.1:4242"})
}

// mustAuth authenticates secret and fails the test if it is refused.
func (e *env) mustAuth(secret string) coderclaw.Principal {
	e.t.Helper()
	p, err := e.auth(secret)
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// refused fails the test unless secret is refused as unauthenticated with
// a message containing want and not the secret.
func (e *env) refused(secret, want string) {
	e.t.Helper()
	p, err := e.auth(secret)
	if err == nil {
		e.t.Fatalf("Authenticate accepted %s, want refused (%s)", p.UserID, want)
	}
	checkRefusal(e.t, err, secret, want)
}

func checkRefusal(t testing.TB, err error, secret, want string) {
	t.Helper()
	var ce *coderclaw.Error
	if !errors.As(err, &ce) || ce.Code != coderclaw.CodeUnauthenticated {
		t.Fatalf("Authenticate: %v, want a *coderclaw.Error with code unauthenticated", err)
	}
	if !strings.Contains(ce.Message, want) {
		t.Errorf("message %q, want it to contain %q", ce.Message, want)
	}
	if secret != "" && (strings.Contains(err.Error(), secret) || len(secret) > 20 && strings.Contains(err.Error(), secret[4:20])) {
		t.Errorf("error %q contains the secret", err)
	}
}

// wantErr fails the test unless err is a *coderclaw.Error with the code
// whose message contains field.
func wantErr(t *testing.T, what string, err error, code coderclaw.Code, field string) {
	t.Helper()
	var ce *coderclaw.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: %v, want a *coderclaw.Error with code %s", what, err, code)
		return
	}
	if ce.Code != code || !strings.Contains(ce.Message, field) {
		t.Errorf("%s: %s: %q, want code %s naming %q", what, ce.Code, ce.Message, code, field)
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := identity.New(identity.Config{}); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Errorf("New without a Store: %v, want an error naming Store", err)
	}
	e := newEnv(t, identity.Config{})
	for _, cfg := range []identity.Config{
		{Store: e.store, SessionTTL: -time.Second},
		{Store: e.store, CacheSize: -1},
	} {
		if _, err := identity.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestAddUserInput(t *testing.T) {
	e := newEnv(t, identity.Config{ValidRole: func(r string) bool { return r == "developer" || r == "admin" || r == "custom" }})
	alice := e.addUser("alice@example.com", "developer", "custom", "developer")
	if !slices.Equal(alice.Roles, []string{"custom", "developer"}) {
		t.Errorf("roles %v, want sorted without duplicates", alice.Roles)
	}
	for _, tc := range []struct {
		name  string
		roles []string
		code  coderclaw.Code
		field string
	}{
		{"", []string{"developer"}, coderclaw.CodeInvalid, "name"},
		{"has space", []string{"developer"}, coderclaw.CodeInvalid, "name"},
		{"-dash", []string{"developer"}, coderclaw.CodeInvalid, "name"},
		{strings.Repeat("a", 65), []string{"developer"}, coderclaw.CodeInvalid, "name"},
		{"0190a3b2-7c4d-7e5f-8a6b-9c0d1e2f3a4b", []string{"developer"}, coderclaw.CodeInvalid, "name"},
		{"bob", nil, coderclaw.CodeInvalid, "roles"},
		{"bob", []string{"developer", "readonly"}, coderclaw.CodeInvalid, "roles"}, // not in ValidRole
		{"alice@example.com", []string{"developer"}, coderclaw.CodeConflict, "name"},
	} {
		_, err := e.svc.AddUser(e.ctx, tc.name, tc.roles)
		wantErr(t, "AddUser("+tc.name+")", err, tc.code, tc.field)
	}
	// By name or by id.
	for _, ref := range []string{alice.Name, alice.ID} {
		u, err := e.svc.User(e.ctx, ref)
		if err != nil || u.ID != alice.ID {
			t.Errorf("User(%s) = %v, %v", ref, u.ID, err)
		}
	}
	_, err := e.svc.User(e.ctx, "nobody")
	wantErr(t, "User(nobody)", err, coderclaw.CodeNotFound, "user")
	_, _, err = e.svc.CreateToken(e.ctx, "nobody", "x", 0)
	wantErr(t, "CreateToken for nobody", err, coderclaw.CodeNotFound, "user")
	_, _, err = e.svc.CreateToken(e.ctx, alice.Name, "", 0)
	wantErr(t, "CreateToken without a name", err, coderclaw.CodeInvalid, "name")
	_, _, err = e.svc.CreateToken(e.ctx, alice.Name, "x", -time.Hour)
	wantErr(t, "CreateToken with a negative ttl", err, coderclaw.CodeInvalid, "ttl")
	_, err = e.svc.RegisterDevice(e.ctx, alice.Name, "tab\there", false)
	wantErr(t, "RegisterDevice with a control character", err, coderclaw.CodeInvalid, "name")
	_, err = e.svc.SetUserRoles(e.ctx, alice.Name, []string{"root"})
	wantErr(t, "SetUserRoles unknown", err, coderclaw.CodeInvalid, "roles")
}

func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t, identity.Config{})
	alice := e.addUser("alice", "developer", "readonly")
	secret, tk := e.createToken("alice", 0)

	if len(secret) != identity.SecretLen || !strings.HasPrefix(secret, identity.TokenSecretPrefix) {
		t.Errorf("secret of length %d with prefix %q, want %d starting %s", len(secret), secret[:4], identity.SecretLen, identity.TokenSecretPrefix)
	}
	if tk.Prefix != secret[:identity.DisplayPrefixLen] || tk.String() != tk.Prefix+"…" {
		t.Errorf("Prefix %q, String %q", tk.Prefix, tk.String())
	}
	if tk.ExpiresAt != nil || tk.UserID != alice.ID {
		t.Errorf("token %+v", tk)
	}

	p := e.mustAuth(secret)
	want := coderclaw.Principal{UserID: alice.ID, Roles: []string{"developer", "readonly"}, Method: identity.MethodToken}
	if p.UserID != want.UserID || p.Method != want.Method || !slices.Equal(p.Roles, want.Roles) || p.SessionID != "" {
		t.Errorf("principal %+v, want %+v", p, want)
	}
	p.Roles[0] = "admin" // the caller's copy
	if p := e.mustAuth(secret); p.Roles[0] != "developer" {
		t.Errorf("a caller changed the cached principal: %v", p.Roles)
	}

	list, err := e.svc.ListTokens(e.ctx, "alice")
	if err != nil || len(list) != 1 || list[0].ID != tk.ID {
		t.Fatalf("ListTokens = %v, %v", list, err)
	}
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", list[0].LastUsedAt, e.clock.Now())
	}

	got, err := e.svc.RevokeToken(e.ctx, tk.ID)
	if err != nil || got.RevokedAt == nil {
		t.Fatalf("RevokeToken = %+v, %v", got, err)
	}
	e.refused(secret, "token revoked")
	if again, err := e.svc.RevokeToken(e.ctx, tk.ID); err != nil || !again.RevokedAt.Equal(*got.RevokedAt) {
		t.Errorf("RevokeToken again = %+v, %v", again, err)
	}
	_, err = e.svc.RevokeToken(e.ctx, "no-such-token")
	wantErr(t, "RevokeToken unknown", err, coderclaw.CodeNotFound, "token")

	// Other tokens of the user are unaffected.
	other, _ := e.createToken("alice", 0)
	e.mustAuth(other)
}

func TestTokenExpiry(t *testing.T) {
	for _, cacheTTL := range []time.Duration{0, -1} { // cached and not
		t.Run("cache="+cacheTTL.String(), func(t *testing.T) {
			e := newEnv(t, identity.Config{CacheTTL: cacheTTL})
			e.addUser("ci-bot", "ci")
			secret, tk := e.createToken("ci-bot", time.Hour)
			if tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
				t.Fatalf("ExpiresAt = %v", tk.ExpiresAt)
			}
			e.mustAuth(secret)
			e.clock.Advance(time.Hour - time.Nanosecond)
			e.mustAuth(secret)
			e.clock.Advance(time.Nanosecond)
			e.refused(secret, "token expired")
			e.clock.Advance(time.Hour)
			e.refused(secret, "token expired")
		})
	}
}

func TestTokenLastUsed(t *testing.T) {
	e := newEnv(t, identity.Config{TouchInterval: time.Minute})
	e.addUser("alice", "developer")
	secret, tk := e.createToken("alice", 0)
	start := e.clock.Now()
	lastUsed := func() time.Time {
		t.Helper()
		got, err := e.svc.Token(e.ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt == nil {
			return time.Time{}
		}
		return *got.LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Errorf("a new token has LastUsedAt %v", lastUsed())
	}
	e.mustAuth(secret)
	e.clock.Advance(30 * time.Second)
	e.mustAuth(secret) // within the interval: not written
	if got := lastUsed(); !got.Equal(start) {
		t.Errorf("LastUsedAt = %v, want %v", got, start)
	}
	e.clock.Advance(30 * time.Second)
	e.mustAuth(secret)
	if got := lastUsed(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("LastUsedAt = %v, want %v", got, start.Add(time.Minute))
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	e := newEnv(t, identity.Config{})
	e.addUser("alice", "developer")
	secret, _ := e.createToken("alice", 0)

	_, err := e.auth("")
	checkRefusal(t, err, "", "authentication required")

	flipped := []byte(secret)
	flipped[10] = 'a'
	if secret[10] == 'a' {
		flipped[10] = 'b'
	}
	for name, s := range map[string]string{
		"malformed":      "not a token",
		"wrong checksum": string(flipped),
		"truncated":      secret[:len(secret)-1],
		"other prefix":   "ghp_" + secret[4:],
		"unknown":        mustNewUnknownSecret(t),
	} {
		_, err := e.auth(s)
		checkRefusal(t, err, s, "invalid token")
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("%s: error contains the presented token", name)
		}
	}

	if _, err := e.svc.SetUserDisabled(e.ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	e.refused(secret, "user disabled")
	_, _, err = e.svc.CreateToken(e.ctx, "alice", "another", 0)
	wantErr(t, "CreateToken for a disabled user", err, coderclaw.CodeForbidden, "disabled")
	if _, err := e.svc.SetUserDisabled(e.ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	e.mustAuth(secret)
}

// mustNewUnknownSecret returns a well-formed token secret no store knows:
// one of a throwaway Service.
func mustNewUnknownSecret(t *testing.T) string {
	t.Helper()
	other := newEnv(t, identity.Config{})
	other.addUser("ghost", "developer")
	s, _ := other.createToken("ghost", 0)
	return s
}

func TestRolesChangeApplyAtOnce(t *testing.T) {
	e := newEnv(t, identity.Config{})
	e.addUser("alice", "developer", "readonly")
	secret, _ := e.createToken("alice", 0)
	e.mustAuth(secret) // cached
	if _, err := e.svc.SetUserRoles(e.ctx, "alice", []string{"readonly"}); err != nil {
		t.Fatal(err)
	}
	if p := e.mustAuth(secret); !slices.Equal(p.Roles, []string{"readonly"}) {
		t.Errorf("roles after SetUserRoles = %v, want [readonly]", p.Roles)
	}
}

// TestCacheAcrossServices shows the cache's bound: a revocation made by
// another Service on the same database (another node) is seen within
// CacheTTL, one made by this Service at once.
func TestCacheAcrossServices(t *testing.T) {
	e := newEnv(t, identity.Config{CacheTTL: 10 * time.Second})
	other := e.service(identity.Config{})
	e.addUser("alice", "developer")
	secret, tk := e.createToken("alice", 0)
	e.mustAuth(secret)
	if _, err := other.RevokeToken(e.ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(e.ctx, access.Credentials{Token: secret}); err == nil {
		t.Error("the revoking Service accepted the revoked token")
	}
	e.mustAuth(secret) // still cached here
	e.clock.Advance(10 * time.Second)
	e.refused(secret, "token revoked")
}

func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t, identity.Config{})
	alice := e.addUser("alice", "developer", "readonly")
	laptop, err := e.svc.RegisterDevice(e.ctx, "alice", "laptop", false)
	if err != nil {
		t.Fatal(err)
	}

	secret, sess, err := e.svc.CreateSession(e.ctx, "alice", laptop.ID, []string{"developer"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, identity.SessionSecretPrefix) || len(secret) != identity.SecretLen {
		t.Errorf("session secret of length %d starting %q", len(secret), secret[:4])
	}
	if !sess.ExpiresAt.Equal(e.clock.Now().Add(identity.DefaultSessionTTL)) {
		t.Errorf("ExpiresAt = %v, want 12h from now", sess.ExpiresAt)
	}
	got, err := e.svc.Session(e.ctx, sess.ID)
	if err != nil || got.ID != sess.ID || got.DeviceID != laptop.ID || !slices.Equal(got.Roles, []string{"developer"}) {
		t.Fatalf("Session = %+v, %v", got, err)
	}

	p := e.mustAuth(secret)
	if p.UserID != alice.ID || p.SessionID != sess.ID || p.DeviceID != laptop.ID || p.Method != identity.MethodSession ||
		!slices.Equal(p.Roles, []string{"developer"}) {
		t.Errorf("principal %+v", p)
	}

	// The session loses a role its user loses, and never gains one.
	if _, err := e.svc.SetUserRoles(e.ctx, "alice", []string{"readonly"}); err != nil {
		t.Fatal(err)
	}
	if p := e.mustAuth(secret); len(p.Roles) != 0 {
		t.Errorf("roles after the user lost developer: %v, want none", p.Roles)
	}
	if _, err := e.svc.SetUserRoles(e.ctx, "alice", []string{"developer", "readonly"}); err != nil {
		t.Fatal(err)
	}

	// Device by name; no roles means the user's roles; no device.
	s2, sess2, err := e.svc.CreateSession(e.ctx, "alice", "laptop", nil)
	if err != nil || sess2.DeviceID != laptop.ID || !slices.Equal(sess2.Roles, []string{"developer", "readonly"}) {
		t.Fatalf("CreateSession by device name = %+v, %v", sess2, err)
	}
	_, sess3, err := e.svc.CreateSession(e.ctx, alice.ID, "", []string{"readonly"})
	if err != nil || sess3.DeviceID != "" {
		t.Fatalf("CreateSession without a device = %+v, %v", sess3, err)
	}
	list, err := e.svc.Sessions(e.ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("Sessions = %v, %v", list, err)
	}

	if _, err := e.svc.RevokeSession(e.ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	e.refused(secret, "session revoked")
	e.mustAuth(s2) // other sessions go on
	_, err = e.svc.RevokeSession(e.ctx, "no-such-session")
	wantErr(t, "RevokeSession unknown", err, coderclaw.CodeNotFound, "session")

	e.clock.Advance(identity.DefaultSessionTTL)
	e.refused(s2, "session expired")
}

func TestSessionRoles(t *testing.T) {
	e := newEnv(t, identity.Config{SessionTTL: time.Hour})
	e.addUser("root", "admin")
	e.addUser("dev", "developer")
	bob := e.addUser("bob", "readonly")
	bobs, err := e.svc.RegisterDevice(e.ctx, "bob", "phone", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user   string
		device string
		roles  []string
		code   coderclaw.Code
		field  string
	}{
		{"dev", "", []string{"admin"}, coderclaw.CodeForbidden, "roles"},
		{"dev", "", []string{"developer", "ci"}, coderclaw.CodeForbidden, "roles"},
		{"dev", "", []string{"superuser"}, coderclaw.CodeInvalid, "roles"},
		{"dev", bobs.ID, nil, coderclaw.CodeNotFound, "device"},
		{"dev", "phone", nil, coderclaw.CodeNotFound, "device"},
		{"nobody", "", nil, coderclaw.CodeNotFound, "user"},
		{"", "", nil, coderclaw.CodeInvalid, "user"},
	} {
		_, _, err := e.svc.CreateSession(e.ctx, tc.user, tc.device, tc.roles)
		wantErr(t, "CreateSession("+tc.user+", "+strings.Join(tc.roles, ",")+")", err, tc.code, tc.field)
	}
	// An admin may give a session any role, and keeps it.
	secret, sess, err := e.svc.CreateSession(e.ctx, "root", "", []string{"ci", "developer"})
	if err != nil {
		t.Fatal(err)
	}
	if p := e.mustAuth(secret); !slices.Equal(p.Roles, []string{"ci", "developer"}) || !sess.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("admin's session: roles %v, expires %v", p.Roles, sess.ExpiresAt)
	}
	// A subset of one's own roles is fine.
	if _, _, err := e.svc.CreateSession(e.ctx, "bob", "phone", []string{"readonly"}); err != nil {
		t.Errorf("CreateSession with own role: %v", err)
	}
	if _, err := e.svc.SetUserDisabled(e.ctx, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.CreateSession(e.ctx, "bob", "", nil)
	wantErr(t, "CreateSession of a disabled user", err, coderclaw.CodeForbidden, "disabled")
}

func TestDeviceTrust(t *testing.T) {
	for _, tc := range []struct {
		autoTrust, local bool
		want             identity.Trust
	}{
		{true, true, identity.TrustTrusted},
		{true, false, identity.TrustUntrusted},
		{false, true, identity.TrustUntrusted},
		{false, false, identity.TrustUntrusted},
	} {
		e := newEnv(t, identity.Config{AutoTrustLocal: tc.autoTrust})
		e.addUser("alice", "developer")
		d, err := e.svc.RegisterDevice(e.ctx, "alice", "laptop", tc.local)
		if err != nil {
			t.Fatal(err)
		}
		if d.Trust != tc.want {
			t.Errorf("autoTrustLocal=%v local=%v: trust %s, want %s", tc.autoTrust, tc.local, d.Trust, tc.want)
		}
	}

	e := newEnv(t, identity.Config{})
	e.addUser("alice", "developer")
	e.addUser("bob", "developer")
	d, err := e.svc.RegisterDevice(e.ctx, "alice", "laptop", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.RegisterDevice(e.ctx, "alice", "laptop", true)
	wantErr(t, "RegisterDevice twice", err, coderclaw.CodeConflict, "name")
	if _, err := e.svc.RegisterDevice(e.ctx, "bob", "laptop", true); err != nil {
		t.Errorf("another user's device of the same name: %v", err)
	}
	d, err = e.svc.SetDeviceTrust(e.ctx, d.ID, identity.TrustVerified)
	if err != nil || d.Trust != identity.TrustVerified {
		t.Fatalf("SetDeviceTrust = %+v, %v", d, err)
	}
	if !d.Trust.AtLeast(identity.TrustVerified) || d.Trust.AtLeast(identity.TrustTrusted) {
		t.Errorf("verified AtLeast is wrong")
	}
	_, err = e.svc.SetDeviceTrust(e.ctx, d.ID, "very")
	wantErr(t, "SetDeviceTrust invalid", err, coderclaw.CodeInvalid, "trust")
	_, err = e.svc.SetDeviceTrust(e.ctx, "no-such-device", identity.TrustTrusted)
	wantErr(t, "SetDeviceTrust unknown", err, coderclaw.CodeNotFound, "device")
	list, err := e.svc.Devices(e.ctx, "alice")
	if err != nil || len(list) != 1 || list[0].Trust != identity.TrustVerified {
		t.Errorf("Devices = %+v, %v", list, err)
	}

	// Using a session marks its device seen.
	secret, _, err := e.svc.CreateSession(e.ctx, "alice", "laptop", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	e.mustAuth(secret)
	got, err := e.svc.Device(e.ctx, d.ID)
	if err != nil || !got.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("LastSeenAt = %v, %v; want %v", got.LastSeenAt, err, e.clock.Now())
	}
}
