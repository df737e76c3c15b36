// Package login signs people in to CoderClaw through an outside identity
// provider and ends every successful sign-in in a CoderClaw session.
//
// It holds two Providers: OIDC (the authorization-code flow with PKCE and a
// nonce, the ID token verified by go-oidc against the issuer's keys) and
// GitHub (the OAuth device authorization grant as GitHub implements it, for
// terminals). NewHandler mounts their routes:
//
//	GET  /api/auth/{oidc}/start      redirect to the issuer
//	GET  /api/auth/{oidc}/callback   finish: 200 {"session_id","token","user","expires_at"}
//	POST /api/auth/github/device     start: 200 {"device_id","user_code","verification_uri",...}
//	POST /api/auth/github/poll       {"device_id"}: 202 pending, or 200 as the callback
//
// ({oidc} is the OIDC provider's Name, "oidc" by default.) DeviceClient
// drives the two GitHub routes from a terminal.
//
// # Users
//
// A provider names the person it signed in (the e-mail or sub claim of an ID
// token, the login of a GitHub account) and that name is taken as a
// CoderClaw user name as is: the sign-in becomes a session of the existing
// user with that name, with the user's roles. When no such user exists the
// sign-in is refused with 403, unless the provider is configured with
// AutoCreate, which adds the user with AutoCreateRoles first. A provider
// therefore vouches for every user name it can produce: configure only
// issuers (and GitHub) whose names you would let own those CoderClaw
// accounts.
//
// # State
//
// A sign-in in progress (an OIDC state with its nonce and PKCE verifier, a
// GitHub device code) lives in a bounded in-memory table of the provider
// for at most its expiry, and is used once. A node restart forgets them,
// and several nodes behind one address need sticky routing for the two
// requests of one sign-in.
//
// # Errors
//
// Every refusal answers {"error":{"code","message"}} with a
// coderclaw.Code and its HTTP status: 400 invalid (a missing, unknown,
// expired or reused state or device id, a malformed body), 401
// unauthenticated (the provider refused, or its answer failed
// verification: signature, issuer, audience, expiry, nonce; a denied or
// expired device code), 403 forbidden (no such user and no AutoCreate, a
// disabled user), 503 unavailable (the provider is unreachable or refused
// this client, too many sign-ins in progress). Messages are safe to show;
// causes are logged. No answer or log line contains a secret.
//
// Providers and the handler are safe for concurrent use, hold no
// goroutines and need no stopping. Their zero values are not usable: create
// them with NewOIDC, NewGitHub and NewHandler.
package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/identity"
)

// Users is what a sign-in needs of the identity system to end in a
// session; *identity.Service is one.
type Users interface {
	User(ctx context.Context, user string) (identity.User, error)
	AddUser(ctx context.Context, name string, roles []string) (identity.User, error)
	CreateSession(ctx context.Context, user, device string, roles []string) (string, identity.Session, error)
}

var _ Users = (*identity.Service)(nil)

// Provider is an identity provider whose sign-ins end in a CoderClaw
// session. It is implemented by this package's providers only (*OIDC and
// *GitHub).
type Provider interface {
	// Name is the provider's segment of its routes' paths.
	Name() string
	// routes returns the provider's handlers by ServeMux pattern; each
	// ends a sign-in through f.
	routes(f *finisher) map[string]http.HandlerFunc
}

// Config configures NewHandler.
type Config struct {
	// Users resolves and creates users and opens sessions. Required.
	Users Users
	// Providers are the providers to mount; their names must differ.
	Providers []Provider
	// Logger receives refusals and their causes; nil discards them.
	Logger *slog.Logger
}

// NewHandler returns the handler serving every provider's routes (see the
// package documentation), or an error naming the bad Config field. Mount it
// at the root of the node's mux, or under the patterns "/api/auth/".
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Users == nil {
		return nil, errors.New("login config: Users is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &finisher{users: cfg.Users, log: cfg.Logger}
	mux := http.NewServeMux()
	seen := map[string]bool{}
	for i, p := range cfg.Providers {
		if p == nil {
			return nil, fmt.Errorf("login config: Providers[%d] is nil", i)
		}
		if seen[p.Name()] {
			return nil, fmt.Errorf("login config: Providers[%d]: name %q is used twice", i, p.Name())
		}
		seen[p.Name()] = true
		for pattern, h := range p.routes(f) {
			mux.HandleFunc(pattern, h)
			method, path, _ := strings.Cut(pattern, " ")
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", method)
				writeError(w, http.StatusMethodNotAllowed, coderclaw.Errorf(coderclaw.CodeInvalid, "method %s: %s takes %s", r.Method, path, method))
			})
		}
	}
	mux.HandleFunc("/api/auth/", func(w http.ResponseWriter, r *http.Request) {
		f.fail(w, r, coderclaw.Errorf(coderclaw.CodeNotFound, "no sign-in route %s %s", r.Method, r.URL.Path), nil)
	})
	return mux, nil
}

// UserMapping decides what happens when a provider's name for a person
// names no CoderClaw user.
type UserMapping struct {
	// AutoCreate adds the missing user with AutoCreateRoles; off, the
	// sign-in is refused with 403.
	AutoCreate bool
	// AutoCreateRoles are the roles of an added user; required with
	// AutoCreate.
	AutoCreateRoles []string
}

func (m UserMapping) validate(prefix string) error {
	if m.AutoCreate && len(m.AutoCreateRoles) == 0 {
		return fmt.Errorf("%s: AutoCreateRoles is required with AutoCreate", prefix)
	}
	return nil
}

// Result is the answer to a finished sign-in. Token is the session's
// secret, shown this once.
type Result struct {
	SessionID string        `json:"session_id"`
	Token     string        `json:"token"`
	User      identity.User `json:"user"`
	ExpiresAt time.Time     `json:"expires_at"`
	Provider  string        `json:"provider"`
}

// finisher turns a verified name into a session and writes the answers.
type finisher struct {
	users Users
	log   *slog.Logger
}

// finish opens a session for the user named name (creating the user when
// m allows) and answers it.
func (f *finisher) finish(w http.ResponseWriter, r *http.Request, provider, name string, m UserMapping) {
	ctx := r.Context()
	u, err := f.users.User(ctx, name)
	if coderclaw.ErrorCode(err) == coderclaw.CodeNotFound {
		u, err = f.create(ctx, name, m)
	}
	if err != nil {
		f.fail(w, r, err, err, "provider", provider, "user", name)
		return
	}
	secret, s, err := f.users.CreateSession(ctx, u.ID, "", nil)
	if err != nil {
		f.fail(w, r, err, err, "provider", provider, "user", name)
		return
	}
	f.log.InfoContext(ctx, "login: signed in", "provider", provider, "user", u.Name, "user_id", u.ID, "session_id", s.ID)
	writeJSON(w, http.StatusOK, Result{SessionID: s.ID, Token: secret, User: u, ExpiresAt: s.ExpiresAt, Provider: provider})
}

func (f *finisher) create(ctx context.Context, name string, m UserMapping) (identity.User, error) {
	if !m.AutoCreate {
		return identity.User{}, coderclaw.Errorf(coderclaw.CodeForbidden,
			"no CoderClaw user %q: ask an admin to add it (coderclaw user add)", name)
	}
	u, err := f.users.AddUser(ctx, name, m.AutoCreateRoles)
	switch coderclaw.ErrorCode(err) {
	case "":
		return u, nil
	case coderclaw.CodeConflict: // another sign-in added it first
		return f.users.User(ctx, name)
	case coderclaw.CodeInvalid:
		return identity.User{}, fmt.Errorf("auto-create user: %w", coderclaw.Errorf(coderclaw.CodeForbidden,
			"cannot add a CoderClaw user for %q: %s", name, coderclaw.ErrorMessage(err)))
	}
	return identity.User{}, fmt.Errorf("auto-create user: %w", err)
}

// fail answers err (its user-safe form) and logs cause with args, unless
// cause is nil.
func (f *finisher) fail(w http.ResponseWriter, r *http.Request, err, cause error, args ...any) {
	e := coderclaw.AsError(err)
	if cause != nil {
		level := slog.LevelInfo
		if e.Code == coderclaw.CodeInternal || e.Code == coderclaw.CodeUnavailable {
			level = slog.LevelWarn
		}
		f.log.Log(r.Context(), level, "login: refused", append([]any{"path", r.URL.Path, "code", e.Code, "err", cause}, args...)...)
	}
	writeError(w, httpStatus(e.Code), e)
}

func writeError(w http.ResponseWriter, status int, e *coderclaw.Error) {
	writeJSON(w, status, struct {
		Error *coderclaw.Error `json:"error"`
	}{e})
}

// httpStatus is the status of an error code, as transport/http maps it.
func httpStatus(c coderclaw.Code) int {
	switch c {
	case coderclaw.CodeInvalid:
		return http.StatusBadRequest
	case coderclaw.CodeNotFound:
		return http.StatusNotFound
	case coderclaw.CodeConflict:
		return http.StatusConflict
	case coderclaw.CodeUnauthenticated:
		return http.StatusUnauthorized
	case coderclaw.CodeForbidden:
		return http.StatusForbidden
	case coderclaw.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Answers carry session secrets and one-time codes.
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Limits on what is read.
const (
	maxRequestBody  = 4 << 10
	maxResponseBody = 1 << 20
)

// readLimited reads at most maxResponseBody bytes of an upstream answer.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResponseBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponseBody {
		return nil, fmt.Errorf("answer longer than %d bytes", maxResponseBody)
	}
	return b, nil
}

func unauthenticated(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeUnauthenticated, format, args...)
}

func invalid(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeInvalid, format, args...)
}

func unavailable(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeUnavailable, format, args...)
}
