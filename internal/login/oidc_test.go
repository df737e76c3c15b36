package login_test

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/login"
)

// newIssuer starts a mock OIDC issuer on 127.0.0.1:0 with the middleware,
// shut down at the end of the test.
func newIssuer(t *testing.T, mw ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mw {
		if err := m.AddMiddleware(f); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Shutdown(); err != nil {
			t.Errorf("shut down issuer: %v", err)
		}
	})
	return m
}

// oidcEnv is a node serving the OIDC routes in front of a mock issuer.
type oidcEnv struct {
	issuer  *mockoidc.MockOIDC
	srv     string // the node's base URL
	browser *http.Client
}

// newOIDCEnv starts an issuer and a node whose OIDC provider is cfg
// completed with the issuer's and node's addresses.
func newOIDCEnv(t *testing.T, users login.Users, cfg login.OIDCConfig, mw ...func(http.Handler) http.Handler) *oidcEnv {
	t.Helper()
	m := newIssuer(t, mw...)
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret = m.Issuer(), m.ClientID, m.ClientSecret
	cfg.HTTPClient = newClient(t)
	srv := serve(t, users, func(base string) []login.Provider {
		cfg.RedirectURL = base + "/api/auth/oidc/callback"
		p, err := login.NewOIDC(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return []login.Provider{p}
	})
	return &oidcEnv{issuer: m, srv: srv.URL, browser: newBrowser(t)}
}

// newBrowser returns a client that keeps cookies and follows redirects.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	c.Jar = jar
	return c
}

// startOnly runs the sign-in up to the issuer's redirect back to the node
// and returns that callback URL without following it.
func (e *oidcEnv) startOnly(t *testing.T) *url.URL {
	t.Helper()
	e.browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	defer func() { e.browser.CheckRedirect = nil }()
	resp, err := e.browser.Get(e.srv + "/api/auth/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("issuer answered %d, want 302 to the callback", resp.StatusCode)
	}
	u, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *oidcEnv) get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestOIDCCodeFlow(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	user := addUser(t, users, "jane.doe@example.com", "developer")
	e := newOIDCEnv(t, users, login.OIDCConfig{})

	// The start redirect carries state, nonce and an S256 PKCE challenge.
	e.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := e.get(t, e.srv+"/api/auth/oidc/start")
	resp.Body.Close()
	e.browser.CheckRedirect = nil
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorize URL %s lacks %s", loc, k)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("scope") != "openid email" {
		t.Errorf("authorize URL %s: want S256 and scope \"openid email\"", loc)
	}

	// The whole flow, as a browser follows it.
	cb := e.startOnly(t)
	res := wantSession(t, users, e.get(t, cb.String()), "oidc", "jane.doe@example.com")
	if res.User.ID != user.ID || len(res.User.Roles) != 1 || res.User.Roles[0] != "developer" {
		t.Errorf("user %+v, want the existing %+v", res.User, user)
	}

	// A state is used once.
	wantError(t, e.get(t, cb.String()), http.StatusBadRequest, coderclaw.CodeInvalid)
}

func TestOIDCSubjectAndAutoCreate(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	e := newOIDCEnv(t, users, login.OIDCConfig{
		UserClaim:   login.ClaimSubject,
		UserMapping: login.UserMapping{AutoCreate: true, AutoCreateRoles: []string{"readonly"}},
	})
	e.issuer.QueueUser(&mockoidc.MockUser{Subject: "alice", Email: "someone@example.com"})
	res := wantSession(t, users, e.get(t, e.srv+"/api/auth/oidc/start"), "oidc", "alice")
	if len(res.User.Roles) != 1 || res.User.Roles[0] != "readonly" {
		t.Errorf("created user %+v, want roles [readonly]", res.User)
	}
	// The second sign-in finds the user it created.
	e.issuer.QueueUser(&mockoidc.MockUser{Subject: "alice"})
	again := wantSession(t, users, e.get(t, e.srv+"/api/auth/oidc/start"), "oidc", "alice")
	if again.User.ID != res.User.ID || again.SessionID == res.SessionID {
		t.Errorf("second sign-in %+v, want a new session of user %s", again, res.User.ID)
	}
}

func TestOIDCUnknownUser(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	e := newOIDCEnv(t, users, login.OIDCConfig{})
	e.issuer.QueueUser(&mockoidc.MockUser{Subject: "1", Email: "Stranger@Example.com", EmailVerified: true})
	err := wantError(t, e.get(t, e.srv+"/api/auth/oidc/start"), http.StatusForbidden, coderclaw.CodeForbidden)
	if !strings.Contains(err.Message, "stranger@example.com") {
		t.Errorf("message %q does not name the lower-cased e-mail", err.Message)
	}
	if _, uerr := users.User(t.Context(), "stranger@example.com"); coderclaw.ErrorCode(uerr) != coderclaw.CodeNotFound {
		t.Errorf("user lookup after a refused sign-in: %v, want not_found", uerr)
	}
}

func TestOIDCDisabledUser(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "jane.doe@example.com", "developer")
	if _, err := users.SetUserDisabled(t.Context(), "jane.doe@example.com", true); err != nil {
		t.Fatal(err)
	}
	e := newOIDCEnv(t, users, login.OIDCConfig{})
	wantError(t, e.get(t, e.srv+"/api/auth/oidc/start"), http.StatusForbidden, coderclaw.CodeForbidden)
}

func TestOIDCWrongNonce(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "jane.doe@example.com", "developer")
	// The issuer signs an ID token for another nonce than the one sent,
	// as a replayed token would carry.
	forge := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.AuthorizationEndpoint {
				q := r.URL.Query()
				q.Set("nonce", "replayed")
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
	e := newOIDCEnv(t, users, login.OIDCConfig{}, forge)
	err := wantError(t, e.get(t, e.srv+"/api/auth/oidc/start"), http.StatusUnauthorized, coderclaw.CodeUnauthenticated)
	if !strings.Contains(err.Message, "nonce") {
		t.Errorf("message %q does not name the nonce", err.Message)
	}
	sessions, serr := users.Sessions(t.Context(), "")
	if serr != nil || len(sessions) != 0 {
		t.Errorf("sessions after a refused sign-in: %v, %v; want none", sessions, serr)
	}
}

func TestOIDCBadState(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "jane.doe@example.com", "developer")
	e := newOIDCEnv(t, users, login.OIDCConfig{})

	t.Run("tampered", func(t *testing.T) {
		cb := e.startOnly(t)
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		wantError(t, e.get(t, cb.String()), http.StatusBadRequest, coderclaw.CodeInvalid)
	})
	t.Run("missing", func(t *testing.T) {
		cb := e.startOnly(t)
		q := cb.Query()
		q.Del("state")
		cb.RawQuery = q.Encode()
		wantError(t, e.get(t, cb.String()), http.StatusBadRequest, coderclaw.CodeInvalid)
	})
	t.Run("other browser", func(t *testing.T) {
		cb := e.startOnly(t)
		resp, err := newBrowser(t).Get(cb.String())
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, resp, http.StatusBadRequest, coderclaw.CodeInvalid)
		// The state is spent: the right browser cannot use it either.
		wantError(t, e.get(t, cb.String()), http.StatusBadRequest, coderclaw.CodeInvalid)
	})
	t.Run("tampered code", func(t *testing.T) {
		cb := e.startOnly(t)
		q := cb.Query()
		q.Set("code", "forged")
		cb.RawQuery = q.Encode()
		wantError(t, e.get(t, cb.String()), http.StatusUnauthorized, coderclaw.CodeUnauthenticated)
	})
	t.Run("issuer refused", func(t *testing.T) {
		cb := e.startOnly(t)
		q := cb.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		cb.RawQuery = q.Encode()
		err := wantError(t, e.get(t, cb.String()), http.StatusUnauthorized, coderclaw.CodeUnauthenticated)
		if !strings.Contains(err.Message, "access_denied") {
			t.Errorf("message %q does not name the issuer's error", err.Message)
		}
	})
}

func TestOIDCStateExpires(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	addUser(t, users, "jane.doe@example.com", "developer")
	clk := newClock(time.Now())
	e := newOIDCEnv(t, users, login.OIDCConfig{Now: clk.Now, StateTTL: time.Minute})
	cb := e.startOnly(t)
	clk.Advance(time.Minute)
	wantError(t, e.get(t, cb.String()), http.StatusBadRequest, coderclaw.CodeInvalid)
}

func TestOIDCPendingBound(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	clk := newClock(time.Now())
	e := newOIDCEnv(t, users, login.OIDCConfig{Now: clk.Now, StateTTL: time.Minute, MaxPending: 2})
	e.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range 2 {
		resp := e.get(t, e.srv+"/api/auth/oidc/start")
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("start: %d, want 302", resp.StatusCode)
		}
	}
	wantError(t, e.get(t, e.srv+"/api/auth/oidc/start"), http.StatusServiceUnavailable, coderclaw.CodeUnavailable)
	// Expired states make room.
	clk.Advance(time.Minute)
	resp := e.get(t, e.srv+"/api/auth/oidc/start")
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start after expiry: %d, want 302", resp.StatusCode)
	}
}

func TestOIDCDiscoveryFails(t *testing.T) {
	t.Parallel()
	_, err := login.NewOIDC(t.Context(), login.OIDCConfig{
		Issuer: "http://127.0.0.1:1/nowhere", ClientID: "x", RedirectURL: "http://127.0.0.1/cb", HTTPClient: newClient(t),
	})
	if err == nil || !strings.Contains(err.Error(), "oidc discovery") {
		t.Fatalf("err %v, want a discovery failure", err)
	}
}
