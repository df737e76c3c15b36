package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults for zero GitHubConfig fields.
const (
	DefaultGitHubName    = "github"
	DefaultGitHubBaseURL = "https://github.com"
	DefaultGitHubAPIURL  = "https://api.github.com"
)

// GrantTypeDeviceCode is the grant type of a device-code token request
// (RFC 8628).
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// GitHubConfig configures NewGitHub. A zero field means its documented
// default.
type GitHubConfig struct {
	// Name is the provider's path segment (/api/auth/{Name}/device); zero
	// means "github".
	Name string
	// ClientID is the GitHub OAuth (or GitHub App) client id with the
	// device flow enabled. Required. The device flow needs no secret.
	ClientID string
	// Scopes are the OAuth scopes requested; zero requests none, which is
	// enough to read the account's login.
	Scopes []string
	// BaseURL serves /login/device/code and /login/oauth/access_token;
	// zero means https://github.com.
	BaseURL string
	// APIURL serves /user; zero means https://api.github.com.
	APIURL string
	// UserMapping says what happens when the GitHub login names no user.
	UserMapping
	// MaxPending bounds the device codes in progress; zero means 1024.
	MaxPending int
	// HTTPClient calls GitHub; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock for polling intervals and expiry; nil means
	// time.Now.
	Now func() time.Time
}

func (c GitHubConfig) withDefaults() GitHubConfig {
	if c.Name == "" {
		c.Name = DefaultGitHubName
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultGitHubBaseURL
	}
	if c.APIURL == "" {
		c.APIURL = DefaultGitHubAPIURL
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	c.APIURL = strings.TrimSuffix(c.APIURL, "/")
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c GitHubConfig) validate() error {
	switch {
	case !namePattern.MatchString(c.Name):
		return fmt.Errorf("github config: Name %q: use 1 to 32 lower-case letters, digits and '-'", c.Name)
	case c.ClientID == "":
		return errors.New("github config: ClientID is required")
	case c.MaxPending < 0:
		return fmt.Errorf("github config: MaxPending %d is negative", c.MaxPending)
	}
	for field, s := range map[string]string{"BaseURL": c.BaseURL, "APIURL": c.APIURL} {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("github config: %s %q is not an absolute http(s) URL", field, s)
		}
	}
	return c.UserMapping.validate("github config")
}

// GitHub signs people in with GitHub's OAuth device flow: the node asks
// GitHub for a device code, the person enters its user code at GitHub, and
// the node polls GitHub until it answers with an access token, which it
// uses once to read the account's login and then forgets. Create it with
// NewGitHub; it is safe for concurrent use.
type GitHub struct {
	cfg     GitHubConfig
	devices *pending[*githubDevice]
}

var _ Provider = (*GitHub)(nil)

// githubDevice is a device code in progress.
type githubDevice struct {
	code string
	// mu serializes polls of one device code; the fields below are
	// guarded by it.
	mu       sync.Mutex
	interval time.Duration
	nextPoll time.Time
}

// NewGitHub returns the provider, or an error naming the bad GitHubConfig
// field. It makes no request.
func NewGitHub(cfg GitHubConfig) (*GitHub, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &GitHub{cfg: cfg, devices: newPending[*githubDevice](cfg.MaxPending, cfg.Now)}, nil
}

// Name returns the provider's path segment.
func (g *GitHub) Name() string { return g.cfg.Name }

func (g *GitHub) routes(f *finisher) map[string]http.HandlerFunc {
	prefix := "POST /api/auth/" + g.cfg.Name + "/"
	return map[string]http.HandlerFunc{
		prefix + "device": g.device(f),
		prefix + "poll":   g.poll(f),
	}
}

// DeviceStart is the answer of POST /api/auth/github/device: show
// UserCode and VerificationURI to the person, then poll with DeviceID
// every Interval seconds until ExpiresIn seconds have passed.
type DeviceStart struct {
	DeviceID        string `json:"device_id"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
}

// DevicePoll is the body of POST /api/auth/github/poll.
type DevicePoll struct {
	DeviceID string `json:"device_id"`
}

// DevicePending is the 202 answer of a poll while the person has not yet
// answered: Status is "authorization_pending", or "slow_down" when polls
// came too fast; poll again after Interval seconds.
type DevicePending struct {
	Status   string `json:"status"`
	Interval int    `json:"interval"`
}

// The statuses of a DevicePending.
const (
	StatusPending  = "authorization_pending"
	StatusSlowDown = "slow_down"
)

// githubAnswer is any JSON answer of GitHub's OAuth endpoints; GitHub
// reports OAuth errors with status 200 and an error field.
type githubAnswer struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`

	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`

	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// device starts a device flow.
func (g *GitHub) device(f *finisher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form := url.Values{"client_id": {g.cfg.ClientID}}
		if len(g.cfg.Scopes) > 0 {
			form.Set("scope", strings.Join(g.cfg.Scopes, " "))
		}
		a, err := g.post(r.Context(), "/login/device/code", form)
		if err == nil && a.Error != "" {
			err = fmt.Errorf("start device flow: %w", unavailable("GitHub refused the device flow: %s", oauthErrorText(a.Error)))
		}
		if err == nil && (a.DeviceCode == "" || a.UserCode == "" || a.VerificationURI == "") {
			err = fmt.Errorf("start device flow: %w", unavailable("GitHub's device-code answer is incomplete"))
		}
		if err != nil {
			f.fail(w, r, err, err, "provider", g.cfg.Name)
			return
		}
		if a.ExpiresIn <= 0 {
			a.ExpiresIn = 900
		}
		if a.Interval <= 0 {
			a.Interval = 5
		}
		now := g.cfg.Now()
		d := &githubDevice{code: a.DeviceCode, interval: time.Duration(a.Interval) * time.Second}
		id, err := g.devices.add(d, now.Add(time.Duration(a.ExpiresIn)*time.Second))
		if err != nil {
			f.fail(w, r, err, err, "provider", g.cfg.Name)
			return
		}
		writeJSON(w, http.StatusOK, DeviceStart{DeviceID: id, UserCode: a.UserCode, VerificationURI: a.VerificationURI,
			ExpiresIn: a.ExpiresIn, Interval: a.Interval})
	}
}

// poll asks GitHub once whether the person has answered, at most once per
// interval per device code.
func (g *GitHub) poll(f *finisher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body DevicePoll
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err := dec.Decode(&body); err != nil {
			f.fail(w, r, invalid("body: want {\"device_id\": \"…\"}"), err)
			return
		}
		if body.DeviceID == "" {
			f.fail(w, r, invalid("device_id: must not be empty"), nil)
			return
		}
		d, ok := g.devices.get(body.DeviceID)
		if !ok {
			f.fail(w, r, invalid("device_id: unknown, expired or already used: start the sign-in again"), nil)
			return
		}
		if !d.mu.TryLock() { // another poll of this code is asking GitHub
			writeJSON(w, http.StatusAccepted, DevicePending{Status: StatusSlowDown, Interval: int(d.interval / time.Second)})
			return
		}
		defer d.mu.Unlock()
		login, wait, err := g.exchange(r.Context(), body.DeviceID, d)
		switch {
		case err != nil:
			f.fail(w, r, err, err, "provider", g.cfg.Name)
		case wait != nil:
			writeJSON(w, http.StatusAccepted, wait)
		default:
			f.finish(w, r, g.cfg.Name, login, g.cfg.UserMapping)
		}
	}
}

// exchange polls GitHub for the device's access token and returns the
// account's login or, while the person has not answered, how to wait. The
// caller holds d.mu.
func (g *GitHub) exchange(ctx context.Context, id string, d *githubDevice) (string, *DevicePending, error) {
	now := g.cfg.Now()
	wait := func(status string) *DevicePending {
		return &DevicePending{Status: status, Interval: int(d.interval / time.Second)}
	}
	if now.Before(d.nextPoll) {
		return "", wait(StatusSlowDown), nil
	}
	d.nextPoll = now.Add(d.interval)
	a, err := g.post(ctx, "/login/oauth/access_token", url.Values{
		"client_id": {g.cfg.ClientID}, "device_code": {d.code}, "grant_type": {GrantTypeDeviceCode},
	})
	if err != nil {
		return "", nil, fmt.Errorf("poll device flow: %w", err)
	}
	switch a.Error {
	case "":
	case StatusPending:
		return "", wait(StatusPending), nil
	case StatusSlowDown:
		if a.Interval > 0 {
			d.interval = time.Duration(a.Interval) * time.Second
		} else {
			d.interval += 5 * time.Second
		}
		d.nextPoll = now.Add(d.interval)
		return "", wait(StatusSlowDown), nil
	case "expired_token":
		g.devices.remove(id)
		return "", nil, unauthenticated("the device code expired before it was entered: start the sign-in again")
	case "access_denied":
		g.devices.remove(id)
		return "", nil, unauthenticated("the sign-in was denied at GitHub")
	default:
		g.devices.remove(id)
		return "", nil, fmt.Errorf("poll device flow: %w", unavailable("GitHub refused the device flow: %s", oauthErrorText(a.Error)))
	}
	g.devices.remove(id)
	if a.AccessToken == "" {
		return "", nil, fmt.Errorf("poll device flow: %w", unavailable("GitHub's token answer has no access token"))
	}
	login, err := g.login(ctx, a.AccessToken)
	return login, nil, err
}

// post sends a form to GitHub's OAuth endpoint path and decodes its JSON
// answer.
func (g *GitHub) post(ctx context.Context, path string, form url.Values) (githubAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.BaseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return githubAnswer{}, fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var a githubAnswer
	if err := g.do(req, &a, true); err != nil {
		return githubAnswer{}, fmt.Errorf("POST %s: %w", path, err)
	}
	return a, nil
}

// login reads the login of the account an access token belongs to.
func (g *GitHub) login(ctx context.Context, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.APIURL+"/user", nil)
	if err != nil {
		return "", fmt.Errorf("GET /user: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	var u struct {
		Login string `json:"login"`
	}
	if err := g.do(req, &u, false); err != nil {
		return "", fmt.Errorf("GET /user: %w", err)
	}
	if u.Login == "" {
		return "", fmt.Errorf("GET /user: %w", unavailable("GitHub's user answer has no login"))
	}
	return u.Login, nil
}

// do sends req and decodes a 200 JSON answer into v, or with oauthErrors
// a 400 one too (RFC 8628 reports OAuth errors with 400; GitHub with 200).
// A 401 is unauthenticated; other failures are unavailable.
func (g *GitHub) do(req *http.Request, v any, oauthErrors bool) error {
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", unavailable("GitHub is unreachable"), err)
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body)
	if err != nil {
		return fmt.Errorf("%w: read answer: %w", unavailable("GitHub is unreachable"), err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: status %s", unauthenticated("GitHub refused the access token"), resp.Status)
	case resp.StatusCode == http.StatusBadRequest && oauthErrors:
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: status %s", unavailable("GitHub answered %d", resp.StatusCode), resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: decode answer: %w", unavailable("GitHub's answer is not JSON"), err)
	}
	return nil
}
