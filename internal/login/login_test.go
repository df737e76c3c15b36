package login_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/login"
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

func newClock(t time.Time) *clock { return &clock{t: t} }

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

// newUsers returns an identity service on a SQLite store in a temporary
// directory, closed at the end of the test.
func newUsers(t *testing.T) *identity.Service {
	t.Helper()
	db, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "coderclaw.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	svc, err := identity.New(identity.Config{Store: db.Identities()})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func addUser(t *testing.T, svc *identity.Service, name string, roles ...string) identity.User {
	t.Helper()
	u, err := svc.AddUser(t.Context(), name, roles)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newClient returns an HTTP client whose idle connections are closed at
// the end of the test, so that goleak sees no connection goroutines.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// serve starts the login handler for the providers on 127.0.0.1:0.
// mk receives the server's URL before the providers are built, so that an
// OIDC provider can know its redirect URL.
func serve(t *testing.T, users login.Users, mk func(base string) []login.Provider) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, err := login.NewHandler(login.Config{Users: users, Providers: mk(base)})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = access.CaptureCredentials(h)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// wireError is the error body every refusal carries.
type wireError struct {
	Error coderclaw.Error `json:"error"`
}

// decode reads resp's JSON body into v and checks its status.
func decode(t *testing.T, resp *http.Response, status int, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// wantError checks that resp is a refusal with the status and code.
func wantError(t *testing.T, resp *http.Response, status int, code coderclaw.Code) coderclaw.Error {
	t.Helper()
	var e wireError
	decode(t, resp, status, &e)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %s and a message", e.Error, code)
	}
	return e.Error
}

// wantSession checks that resp is a finished sign-in of the user and
// that its token authenticates as a session of that user.
func wantSession(t *testing.T, svc *identity.Service, resp *http.Response, provider, user string) login.Result {
	t.Helper()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var res login.Result
	decode(t, resp, http.StatusOK, &res)
	if res.User.Name != user || res.Provider != provider || res.SessionID == "" || res.Token == "" {
		t.Fatalf("result %+v, want a session of %s by %s", res, user, provider)
	}
	p, err := svc.Authenticate(t.Context(), access.Credentials{Token: res.Token, RemoteAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatalf("Authenticate the new token: %v", err)
	}
	if p.UserID != res.User.ID || p.SessionID != res.SessionID || p.Method != identity.MethodSession {
		t.Fatalf("principal %+v, want session %s of user %s", p, res.SessionID, res.User.ID)
	}
	return res
}

func TestNewHandlerConfig(t *testing.T) {
	t.Parallel()
	gh := func(name string) *login.GitHub {
		g, err := login.NewGitHub(login.GitHubConfig{Name: name, ClientID: "id"})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	svc := newUsers(t)
	for _, tc := range []struct {
		name string
		cfg  login.Config
		want string
	}{
		{"no users", login.Config{}, "Users is required"},
		{"nil provider", login.Config{Users: svc, Providers: []login.Provider{nil}}, "Providers[0] is nil"},
		{"duplicate", login.Config{Users: svc, Providers: []login.Provider{gh("a"), gh("a")}}, `Providers[1]: name "a" is used twice`},
	} {
		_, err := login.NewHandler(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestProviderConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  login.GitHubConfig
		want string
	}{
		{"no client", login.GitHubConfig{}, "ClientID is required"},
		{"bad name", login.GitHubConfig{ClientID: "x", Name: "Git Hub"}, `Name "Git Hub"`},
		{"bad url", login.GitHubConfig{ClientID: "x", BaseURL: "github.com"}, "BaseURL"},
		{"auto-create without roles", login.GitHubConfig{ClientID: "x", UserMapping: login.UserMapping{AutoCreate: true}}, "AutoCreateRoles is required"},
	} {
		_, err := login.NewGitHub(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("github %s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  login.OIDCConfig
		want string
	}{
		{"no issuer", login.OIDCConfig{ClientID: "x", RedirectURL: "http://h/cb"}, "Issuer is required"},
		{"no client", login.OIDCConfig{Issuer: "http://i", RedirectURL: "http://h/cb"}, "ClientID is required"},
		{"relative redirect", login.OIDCConfig{Issuer: "http://i", ClientID: "x", RedirectURL: "/cb"}, "RedirectURL"},
		{"bad claim", login.OIDCConfig{Issuer: "http://i", ClientID: "x", RedirectURL: "http://h/cb", UserClaim: "name"}, "UserClaim"},
		{"auto-create without roles", login.OIDCConfig{Issuer: "http://i", ClientID: "x", RedirectURL: "http://h/cb",
			UserMapping: login.UserMapping{AutoCreate: true}}, "AutoCreateRoles is required"},
	} {
		_, err := login.NewOIDC(t.Context(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("oidc %s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	srv := serve(t, newUsers(t), func(string) []login.Provider { return nil })
	resp, err := newClient(t).Get(srv.URL + "/api/auth/nope/start")
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, resp, http.StatusNotFound, coderclaw.CodeNotFound)
}
