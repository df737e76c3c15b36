package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity/idstore"
)

// Defaults for zero Config fields.
const (
	DefaultSessionTTL    = 12 * time.Hour
	DefaultCacheTTL      = 30 * time.Second
	DefaultCacheSize     = 10000
	DefaultTouchInterval = time.Minute
)

// Limits on names.
const (
	maxUserNameLen = 64
	maxNameLen     = 128
)

// Config configures a Service. A zero field means its documented default.
type Config struct {
	// Store persists the records. Required.
	Store Store
	// ValidRole reports whether a role name exists; nil accepts the
	// BuiltinRoles. The security layer passes its role table (custom roles
	// included).
	ValidRole func(role string) bool
	// AutoTrustLocal makes RegisterDevice trust a device registered from
	// this machine (security.yaml deviceTrust.autoTrustLocal).
	AutoTrustLocal bool
	// SessionTTL is how long a session lasts; zero means 12h.
	SessionTTL time.Duration
	// CacheTTL is how long an accepted credential is reused without a
	// store read; zero means 30s, negative turns the cache off. It bounds
	// how late a change made by another process is seen.
	CacheTTL time.Duration
	// CacheSize bounds the cached credentials; zero means 10000.
	CacheSize int
	// TouchInterval is how stale a token's LastUsedAt (a device's
	// LastSeenAt) may get before a request writes it again; zero means
	// 1m, negative means never write it.
	TouchInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ValidRole == nil {
		builtin := BuiltinRoles()
		c.ValidRole = func(r string) bool { return slices.Contains(builtin, r) }
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = DefaultTouchInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("identity config: Store is required")
	case c.SessionTTL < 0:
		return fmt.Errorf("identity config: SessionTTL %s is negative", c.SessionTTL)
	case c.CacheSize < 0:
		return fmt.Errorf("identity config: CacheSize %d is negative", c.CacheSize)
	}
	return nil
}

// Service manages identities and authenticates requests. Create it with
// New; it is safe for concurrent use.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger
	cache *authCache // nil when off
}

var _ access.Authenticator = (*Service)(nil)

// New returns a Service, or an error naming the bad Config field.
func New(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: cfg.Store, log: cfg.Logger}
	if cfg.CacheTTL > 0 {
		s.cache = newAuthCache(cfg.CacheTTL, cfg.CacheSize)
	}
	return s, nil
}

// now returns the clock's time as the store returns it: UTC, no monotonic
// reading.
func (s *Service) now() time.Time { return s.cfg.Now().Round(0).UTC() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func invalid(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeInvalid, format, args...)
}

func forbidden(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeForbidden, format, args...)
}

func isNotFound(err error) bool { return coderclaw.ErrorCode(err) == coderclaw.CodeNotFound }

// checkUserName checks a new user's name: 1 to 64 letters, digits and
// . _ @ + -, starting with a letter or digit (an e-mail address fits), and
// not a UUID, so that a reference to a user by name or id is never
// ambiguous.
func checkUserName(name string) error {
	if name == "" {
		return invalid("name: must not be empty")
	}
	if len(name) > maxUserNameLen {
		return invalid("name: longer than %d characters", maxUserNameLen)
	}
	for i, r := range name {
		ok := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			i > 0 && strings.ContainsRune("._@+-", r)
		if !ok {
			return invalid("name: %q: use letters, digits and . _ @ + - (starting with a letter or digit)", name)
		}
	}
	if _, err := uuid.Parse(name); err == nil {
		return invalid("name: %q: must not be a UUID", name)
	}
	return nil
}

// checkName checks the name of a token or device: 1 to 128 printable
// characters without leading or trailing space.
func checkName(field, name string) error {
	switch {
	case name == "":
		return invalid("%s: must not be empty", field)
	case len(name) > maxNameLen:
		return invalid("%s: longer than %d characters", field, maxNameLen)
	case !utf8.ValidString(name):
		return invalid("%s: not valid UTF-8", field)
	case strings.TrimSpace(name) != name:
		return invalid("%s: %q has leading or trailing space", field, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return invalid("%s: %q has a control character", field, name)
		}
	}
	return nil
}

// checkRoles returns roles sorted and without duplicates, or an error if
// one is unknown or none is given.
func (s *Service) checkRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, invalid("roles: at least one role is required")
	}
	out := slices.Clone(roles)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, r := range out {
		if !s.cfg.ValidRole(r) {
			return nil, invalid("roles: unknown role %q", r)
		}
	}
	return out, nil
}

// Users.

// AddUser creates a user with the roles.
func (s *Service) AddUser(ctx context.Context, name string, roles []string) (User, error) {
	if err := checkUserName(name); err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	roles, err := s.checkRoles(roles)
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	u := User{ID: newID(), Name: name, Roles: roles, CreatedAt: s.now()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "added user", "user", u.Name, "user_id", u.ID, "roles", u.Roles)
	return u, nil
}

// User returns the user with the name or, failing that, the id.
func (s *Service) User(ctx context.Context, user string) (User, error) {
	if user == "" {
		return User{}, fmt.Errorf("get user: %w", invalid("user: must not be empty"))
	}
	u, err := s.store.UserByName(ctx, user)
	if err == nil || !isNotFound(err) {
		return u, err
	}
	if _, perr := uuid.Parse(user); perr == nil {
		u, err = s.store.User(ctx, user)
		if err == nil || !isNotFound(err) {
			return u, err
		}
	}
	return User{}, fmt.Errorf("get user: %w", coderclaw.Errorf(coderclaw.CodeNotFound, "user: no user %q", user))
}

// Users lists every user by name.
func (s *Service) Users(ctx context.Context) ([]User, error) { return s.store.Users(ctx) }

// SetUserRoles replaces a user's roles. Tokens and sessions of the user see
// the new roles from the next request on.
func (s *Service) SetUserRoles(ctx context.Context, user string, roles []string) (User, error) {
	roles, err := s.checkRoles(roles)
	if err != nil {
		return User{}, fmt.Errorf("set roles of %s: %w", user, err)
	}
	return s.updateUser(ctx, user, "set roles of", func(u *User) { u.Roles = roles })
}

// SetUserDisabled disables or re-enables a user. A disabled user's tokens
// and sessions are refused from the next request on.
func (s *Service) SetUserDisabled(ctx context.Context, user string, disabled bool) (User, error) {
	return s.updateUser(ctx, user, "set disabled of", func(u *User) { u.Disabled = disabled })
}

func (s *Service) updateUser(ctx context.Context, user, op string, change func(*User)) (User, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return User{}, fmt.Errorf("%s %s: %w", op, user, err)
	}
	change(&u)
	u, err = s.store.UpdateUser(ctx, u)
	s.invalidate(func(e *authEntry) bool { return e.principal.UserID == u.ID })
	if err != nil {
		return User{}, fmt.Errorf("%s %s: %w", op, user, err)
	}
	s.log.InfoContext(ctx, "updated user", "user", u.Name, "user_id", u.ID, "roles", u.Roles, "disabled", u.Disabled)
	return u, nil
}

// activeUser returns a user that is not disabled.
func (s *Service) activeUser(ctx context.Context, user string) (User, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, forbidden("user: %s is disabled", u.Name)
	}
	return u, nil
}

func (s *Service) invalidate(match func(*authEntry) bool) {
	if s.cache != nil {
		s.cache.invalidate(match)
	}
}

// Tokens.

// CreateToken creates an API token of the user (a name or an id) that
// expires after ttl (zero: never) and returns its secret, which is shown
// this once and cannot be recovered.
func (s *Service) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, Token, error) {
	if ttl < 0 {
		return "", Token{}, fmt.Errorf("create token: %w", invalid("ttl: %s is negative", ttl))
	}
	if err := checkName("name", name); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	u, err := s.activeUser(ctx, user)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	secret := newSecret(TokenSecretPrefix)
	now := s.now()
	t := Token{ID: newID(), UserID: u.ID, Name: name, Prefix: displayPrefix(secret), CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := s.store.CreateToken(ctx, t, HashSecret(secret)); err != nil {
		return "", Token{}, fmt.Errorf("create token for %s: %w", u.Name, err)
	}
	s.log.InfoContext(ctx, "created token", "token", t, "token_id", t.ID, "user", u.Name, "expires_at", t.ExpiresAt)
	return secret, t, nil
}

// HashSecret returns the stored form of a secret.
func HashSecret(secret string) Hash { return idstore.HashSecret(secret) }

// Token returns the token with the id.
func (s *Service) Token(ctx context.Context, id string) (Token, error) { return s.store.Token(ctx, id) }

// RevokeToken revokes a token; it is refused from the next request on.
// Revoking a revoked token changes nothing and returns it.
func (s *Service) RevokeToken(ctx context.Context, id string) (Token, error) {
	t, err := s.store.RevokeToken(ctx, id, s.now())
	s.invalidate(func(e *authEntry) bool { return e.tokenID == id })
	if err != nil {
		return Token{}, err
	}
	s.log.InfoContext(ctx, "revoked token", "token", t, "token_id", t.ID, "user_id", t.UserID)
	return t, nil
}

// ListTokens lists the tokens of a user (a name or an id), or of every
// user when user is empty, oldest first.
func (s *Service) ListTokens(ctx context.Context, user string) ([]Token, error) {
	id, err := s.userID(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return s.store.Tokens(ctx, id)
}

// userID resolves an optional user filter.
func (s *Service) userID(ctx context.Context, user string) (string, error) {
	if user == "" {
		return "", nil
	}
	u, err := s.User(ctx, user)
	return u.ID, err
}

// Devices.

// RegisterDevice registers a device of the user (a name or an id). It
// starts untrusted, or trusted when it is local (the request came from
// this machine) and Config.AutoTrustLocal is on.
func (s *Service) RegisterDevice(ctx context.Context, user, name string, local bool) (Device, error) {
	if err := checkName("name", name); err != nil {
		return Device{}, fmt.Errorf("register device: %w", err)
	}
	u, err := s.activeUser(ctx, user)
	if err != nil {
		return Device{}, fmt.Errorf("register device: %w", err)
	}
	now := s.now()
	d := Device{ID: newID(), UserID: u.ID, Name: name, Trust: TrustUntrusted, CreatedAt: now, LastSeenAt: now}
	if local && s.cfg.AutoTrustLocal {
		d.Trust = TrustTrusted
	}
	if err := s.store.CreateDevice(ctx, d); err != nil {
		return Device{}, fmt.Errorf("register device %q of %s: %w", name, u.Name, err)
	}
	s.log.InfoContext(ctx, "registered device", "device_id", d.ID, "device", d.Name, "user", u.Name, "trust", d.Trust)
	return d, nil
}

// SetDeviceTrust changes a device's trust level.
func (s *Service) SetDeviceTrust(ctx context.Context, id string, trust Trust) (Device, error) {
	if !trust.Valid() {
		return Device{}, fmt.Errorf("set device trust: %w", invalid("trust: %q is not one of untrusted, verified, trusted", trust))
	}
	d, err := s.store.SetDeviceTrust(ctx, id, trust)
	if err != nil {
		return Device{}, err
	}
	s.log.InfoContext(ctx, "set device trust", "device_id", d.ID, "device", d.Name, "trust", d.Trust)
	return d, nil
}

// Device returns the device with the id.
func (s *Service) Device(ctx context.Context, id string) (Device, error) {
	return s.store.Device(ctx, id)
}

// Devices lists the devices of a user (a name or an id), or of every user
// when user is empty, oldest first.
func (s *Service) Devices(ctx context.Context, user string) ([]Device, error) {
	id, err := s.userID(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return s.store.Devices(ctx, id)
}

// Sessions.

// CreateSession opens a session of the user (a name or an id) on one of
// the user's devices (an id or the device's name; empty: no device) with
// the roles (empty: the user's roles), which must be roles the user holds
// unless the user is an admin. The session lasts Config.SessionTTL. It
// returns the session's secret, shown this once.
func (s *Service) CreateSession(ctx context.Context, user, device string, roles []string) (string, Session, error) {
	u, err := s.activeUser(ctx, user)
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	if len(roles) == 0 {
		roles = u.Roles
	}
	roles, err = s.checkRoles(roles)
	if err != nil {
		return "", Session{}, fmt.Errorf("create session for %s: %w", u.Name, err)
	}
	if !u.HasRole(AdminRole) {
		for _, r := range roles {
			if !u.HasRole(r) {
				return "", Session{}, fmt.Errorf("create session for %s: %w", u.Name, forbidden("roles: user %s does not hold role %q", u.Name, r))
			}
		}
	}
	var deviceID string
	if device != "" {
		d, err := s.userDevice(ctx, u, device)
		if err != nil {
			return "", Session{}, fmt.Errorf("create session for %s: %w", u.Name, err)
		}
		deviceID = d.ID
	}
	secret := newSecret(SessionSecretPrefix)
	now := s.now()
	sess := Session{ID: newID(), UserID: u.ID, DeviceID: deviceID, Roles: roles, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.store.CreateSession(ctx, sess, HashSecret(secret)); err != nil {
		return "", Session{}, fmt.Errorf("create session for %s: %w", u.Name, err)
	}
	s.log.InfoContext(ctx, "created session", "session_id", sess.ID, "user", u.Name, "device_id", deviceID,
		"roles", roles, "expires_at", sess.ExpiresAt)
	return secret, sess, nil
}

// userDevice returns the device of u with the id or, failing that, name.
func (s *Service) userDevice(ctx context.Context, u User, device string) (Device, error) {
	d, err := s.store.Device(ctx, device)
	if err == nil && d.UserID == u.ID {
		return d, nil
	}
	if err != nil && !isNotFound(err) {
		return Device{}, err
	}
	ds, err := s.store.Devices(ctx, u.ID)
	if err != nil {
		return Device{}, err
	}
	for _, d := range ds {
		if d.Name == device {
			return d, nil
		}
	}
	return Device{}, coderclaw.Errorf(coderclaw.CodeNotFound, "device: user %s has no device %q", u.Name, device)
}

// Session returns the session with the id.
func (s *Service) Session(ctx context.Context, id string) (Session, error) {
	return s.store.Session(ctx, id)
}

// Sessions lists the sessions of a user (a name or an id), or of every
// user when user is empty, oldest first; expired and revoked ones
// included.
func (s *Service) Sessions(ctx context.Context, user string) ([]Session, error) {
	id, err := s.userID(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return s.store.Sessions(ctx, id)
}

// RevokeSession ends a session; its secret is refused from the next
// request on. Revoking a revoked session changes nothing and returns it.
func (s *Service) RevokeSession(ctx context.Context, id string) (Session, error) {
	sess, err := s.store.RevokeSession(ctx, id, s.now())
	s.invalidate(func(e *authEntry) bool { return e.principal.SessionID == id })
	if err != nil {
		return Session{}, err
	}
	s.log.InfoContext(ctx, "revoked session", "session_id", sess.ID, "user_id", sess.UserID)
	return sess, nil
}
