package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Defaults for zero OIDCConfig fields.
const (
	DefaultOIDCName = "oidc"
	DefaultStateTTL = 10 * time.Minute
)

// The claims an OIDC provider can take a user name from.
const (
	ClaimEmail   = "email"
	ClaimSubject = "sub"
)

// OIDCConfig configures NewOIDC. A zero field means its documented default.
type OIDCConfig struct {
	// Name is the provider's path segment (/api/auth/{Name}/start); zero
	// means "oidc". Lower-case letters, digits and '-'.
	Name string
	// Issuer is the issuer URL; discovery is read from
	// {Issuer}/.well-known/openid-configuration. Required.
	Issuer string
	// ClientID and ClientSecret are this node's client at the issuer.
	// ClientID is required; ClientSecret may be empty for a public client
	// (PKCE protects the code either way).
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback URL registered at the issuer: the
	// node's public address + /api/auth/{Name}/callback. Required.
	RedirectURL string
	// Scopes are requested besides "openid", which is always first; zero
	// means "email" when UserClaim is "email", none otherwise.
	Scopes []string
	// UserClaim is the ID-token claim taken as the CoderClaw user name:
	// "email" (the default; lower-cased, refused when email_verified is
	// false) or "sub".
	UserClaim string
	// UserMapping says what happens when that name names no user.
	UserMapping
	// StateTTL is how long a started sign-in may take; zero means 10m.
	StateTTL time.Duration
	// MaxPending bounds the sign-ins in progress; zero means 1024.
	MaxPending int
	// HTTPClient calls the issuer; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock for state expiry and ID-token expiry; nil means
	// time.Now.
	Now func() time.Time
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (c OIDCConfig) withDefaults() OIDCConfig {
	if c.Name == "" {
		c.Name = DefaultOIDCName
	}
	if c.UserClaim == "" {
		c.UserClaim = ClaimEmail
	}
	if c.Scopes == nil && c.UserClaim == ClaimEmail {
		c.Scopes = []string{"email"}
	}
	c.Scopes = append([]string{oidc.ScopeOpenID}, slices.DeleteFunc(slices.Clone(c.Scopes), func(s string) bool { return s == oidc.ScopeOpenID })...)
	if c.StateTTL == 0 {
		c.StateTTL = DefaultStateTTL
	}
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

func (c OIDCConfig) validate() error {
	switch {
	case !namePattern.MatchString(c.Name):
		return fmt.Errorf("oidc config: Name %q: use 1 to 32 lower-case letters, digits and '-'", c.Name)
	case c.Issuer == "":
		return errors.New("oidc config: Issuer is required")
	case c.ClientID == "":
		return errors.New("oidc config: ClientID is required")
	case c.UserClaim != ClaimEmail && c.UserClaim != ClaimSubject:
		return fmt.Errorf("oidc config: UserClaim %q is not one of email, sub", c.UserClaim)
	case c.StateTTL < 0:
		return fmt.Errorf("oidc config: StateTTL %s is negative", c.StateTTL)
	case c.MaxPending < 0:
		return fmt.Errorf("oidc config: MaxPending %d is negative", c.MaxPending)
	}
	u, err := url.Parse(c.RedirectURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("oidc config: RedirectURL %q is not an absolute http(s) URL", c.RedirectURL)
	}
	return c.UserMapping.validate("oidc config")
}

// OIDC signs people in with an OpenID Connect issuer's authorization-code
// flow. Create it with NewOIDC; it is safe for concurrent use.
type OIDC struct {
	cfg      OIDCConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	states   *pending[oidcState]
	secure   bool // the state cookie is Secure
}

var _ Provider = (*OIDC)(nil)

// oidcState is what a started sign-in keeps server-side.
type oidcState struct {
	nonce    string
	verifier string // PKCE code verifier
}

// NewOIDC reads the issuer's discovery document and returns the provider,
// or an error naming the bad OIDCConfig field or saying why discovery
// failed.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery of %s: %w", cfg.Issuer, err)
	}
	return &OIDC{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  cfg.RedirectURL,
			Scopes:       cfg.Scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		states:   newPending[oidcState](cfg.MaxPending, cfg.Now),
		secure:   strings.HasPrefix(cfg.RedirectURL, "https:"),
	}, nil
}

// Name returns the provider's path segment.
func (o *OIDC) Name() string { return o.cfg.Name }

func (o *OIDC) prefix() string { return "/api/auth/" + o.cfg.Name + "/" }

// stateCookie is the cookie that binds a sign-in's state to the browser
// that started it, so that a callback carried to another browser (login
// CSRF) is refused.
func (o *OIDC) stateCookie() string { return "coderclaw_" + o.cfg.Name + "_state" }

func (o *OIDC) routes(f *finisher) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET " + o.prefix() + "start":    o.start(f),
		"GET " + o.prefix() + "callback": o.callback(f),
	}
}

// start redirects to the issuer with a new state, nonce and PKCE
// challenge.
func (o *OIDC) start(f *finisher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := oidcState{nonce: randomString(), verifier: oauth2.GenerateVerifier()}
		state, err := o.states.add(st, o.cfg.Now().Add(o.cfg.StateTTL))
		if err != nil {
			f.fail(w, r, err, err, "provider", o.cfg.Name)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: o.stateCookie(), Value: state, Path: o.prefix(),
			MaxAge: int(o.cfg.StateTTL / time.Second), HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode,
		})
		w.Header().Set("Cache-Control", "no-store")
		u := o.oauth.AuthCodeURL(state, oidc.Nonce(st.nonce), oauth2.S256ChallengeOption(st.verifier))
		http.Redirect(w, r, u, http.StatusFound)
	}
}

// callback finishes a sign-in: it checks the state, exchanges the code,
// verifies the ID token and its nonce and opens a session.
func (o *OIDC) callback(f *finisher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, err := o.verify(r)
		if err != nil {
			f.fail(w, r, err, err, "provider", o.cfg.Name)
			return
		}
		f.finish(w, r, o.cfg.Name, name, o.cfg.UserMapping)
	}
}

// verify checks a callback request and returns the user name it proves.
func (o *OIDC) verify(r *http.Request) (string, error) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return "", invalid("state: missing: start the sign-in at %sstart", o.prefix())
	}
	st, ok := o.states.take(state)
	if !ok {
		return "", invalid("state: unknown, expired or already used: start the sign-in again")
	}
	c, err := r.Cookie(o.stateCookie())
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return "", invalid("state: this browser did not start the sign-in: start it again")
	}
	if e := q.Get("error"); e != "" {
		return "", unauthenticated("the identity provider refused the sign-in: %s", oauthErrorText(e))
	}
	code := q.Get("code")
	if code == "" {
		return "", invalid("code: missing")
	}
	ctx := oidc.ClientContext(r.Context(), o.cfg.HTTPClient)
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.verifier))
	if err != nil {
		if _, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
			return "", fmt.Errorf("exchange code: %w: %w", unauthenticated("the identity provider refused the code"), err)
		}
		return "", fmt.Errorf("exchange code: %w: %w", unavailable("the identity provider is unreachable"), err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", unauthenticated("the identity provider sent no ID token")
	}
	idt, err := o.verifier.Verify(r.Context(), raw)
	if err != nil {
		return "", fmt.Errorf("verify ID token: %w: %w", unauthenticated("the ID token failed verification"), err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.nonce)) != 1 {
		return "", unauthenticated("the ID token failed verification: wrong nonce")
	}
	return o.userName(idt)
}

// userName returns the CoderClaw user name an ID token proves.
func (o *OIDC) userName(idt *oidc.IDToken) (string, error) {
	if o.cfg.UserClaim == ClaimSubject {
		if idt.Subject == "" {
			return "", unauthenticated("the ID token has no sub claim")
		}
		return idt.Subject, nil
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", fmt.Errorf("read ID token claims: %w: %w", unauthenticated("the ID token's claims are malformed"), err)
	}
	if claims.Email == "" {
		return "", unauthenticated("the ID token has no email claim: request the email scope")
	}
	if claims.EmailVerified != nil && !*claims.EmailVerified {
		return "", unauthenticated("the identity provider has not verified the e-mail address %s", claims.Email)
	}
	return strings.ToLower(claims.Email), nil
}

// oauthErrorText keeps an OAuth error code printable and short, since it
// comes from the query string.
func oauthErrorText(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '?'
	}, s)
}
