// Package idstore holds the identity records (users, API tokens, devices,
// sessions) and the Store seam their backends implement. It is apart from
// package identity, which re-exports every name here, so that a storage
// backend can implement Store without importing the request-handling side
// (package access and net/http) that the identity service plugs into.
//
// # Contract
//
// A Store keeps records, not secrets: a token's or a session's secret
// reaches it only as its SHA-256 Hash, and lookups are by that hash, so
// nothing in the store can be turned back into a credential. Every method
// is safe for concurrent use. Times go in with whatever precision the
// caller has and come back in UTC with at least microsecond precision.
// Ids are set by the caller (the identity service uses UUIDv7).
//
// Errors a caller branches on are *coderclaw.Error values: code not_found
// for an unknown id, name or hash; conflict for a duplicate id, user name,
// (user, device name) pair or hash; invalid for a record the store cannot
// hold (an empty id, an unknown trust level). Their messages name the field
// and never contain a hash. Anything else is a failure of the backend,
// wrapped with the operation. Every backend must pass
// identitytest.Exercise.
package idstore

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"slices"
	"time"
)

// Trust is a device's trust level: untrusted < verified < trusted.
type Trust string

// The trust levels.
const (
	TrustUntrusted Trust = "untrusted"
	TrustVerified  Trust = "verified"
	TrustTrusted   Trust = "trusted"
)

// rank orders the trust levels; 0 is not a level.
func (t Trust) rank() int {
	switch t {
	case TrustUntrusted:
		return 1
	case TrustVerified:
		return 2
	case TrustTrusted:
		return 3
	}
	return 0
}

// Valid reports whether t is one of the three levels.
func (t Trust) Valid() bool { return t.rank() > 0 }

// AtLeast reports whether t is a valid level no lower than minimum: the
// check of a policy's minimum trust.
func (t Trust) AtLeast(minimum Trust) bool { return t.Valid() && t.rank() >= minimum.rank() }

// Hash is the SHA-256 of a secret: the only form in which a token's or a
// session's secret is stored or looked up. It prints redacted.
type Hash [sha256.Size]byte

// HashSecret returns the hash of a secret.
func HashSecret(secret string) Hash { return sha256.Sum256([]byte(secret)) }

// String never shows the hash.
func (Hash) String() string { return "[hash]" }

// LogValue never shows the hash.
func (Hash) LogValue() slog.Value { return slog.StringValue("[hash]") }

// User is a local identity. Name is unique and never changes.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
}

// HasRole reports whether the user holds the role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Token is an API token of a user. Its secret is never part of it: the
// secret is shown once, when the token is created, and stored only as its
// Hash. Prefix is the secret's first characters, kept to tell tokens
// apart; a Token prints (String, LogValue) as its prefix only.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// String shows the token's prefix, never more.
func (t Token) String() string { return t.Prefix + "…" }

// LogValue shows the token's prefix, never more.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Active reports whether the token is neither revoked nor expired at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Device is a machine a user works from, with its trust level.
// (UserID, Name) is unique. LastSeenAt starts at CreatedAt.
type Device struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Name       string    `json:"name"`
	Trust      Trust     `json:"trust"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// Session binds a user, optionally one of the user's devices, and a set of
// roles until ExpiresAt. Like a token it has a secret, shown once and
// stored as its Hash; ID is not secret.
type Session struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	DeviceID  string     `json:"device_id,omitempty"`
	Roles     []string   `json:"roles"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the session is neither revoked nor expired at now.
func (s Session) Active(now time.Time) bool { return s.RevokedAt == nil && now.Before(s.ExpiresAt) }

// Store persists identity records. See the package documentation for the
// errors.
type Store interface {
	// CreateUser inserts a user; a duplicate id or name is a conflict.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with the id; UserByName the one with the name.
	User(ctx context.Context, id string) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	// Users lists every user by name.
	Users(ctx context.Context) ([]User, error)
	// UpdateUser replaces the roles and the disabled flag of the user with
	// u.ID (its name and creation time never change) and returns the user.
	UpdateUser(ctx context.Context, u User) (User, error)

	// CreateToken inserts a token of an existing user (else not_found)
	// with the hash of its secret.
	CreateToken(ctx context.Context, t Token, h Hash) error
	// Token returns the token with the id.
	Token(ctx context.Context, id string) (Token, error)
	// Tokens lists the tokens of a user, or of every user when userID is
	// empty, oldest first (by id).
	Tokens(ctx context.Context, userID string) ([]Token, error)
	// RevokeToken sets the token's RevokedAt to at unless it is already
	// set (revoking twice keeps the first time) and returns the token.
	RevokeToken(ctx context.Context, id string, at time.Time) (Token, error)
	// TouchToken sets the token's LastUsedAt to at if that is later.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// LookupToken returns the token whose secret has the hash, with its
	// user, in one read: the authentication path. Revoked and expired
	// tokens are returned too; judging them is the caller's business.
	LookupToken(ctx context.Context, h Hash) (Token, User, error)

	// CreateDevice inserts a device of an existing user (else not_found).
	CreateDevice(ctx context.Context, d Device) error
	// Device returns the device with the id.
	Device(ctx context.Context, id string) (Device, error)
	// Devices lists the devices of a user, or of every user when userID is
	// empty, oldest first (by id).
	Devices(ctx context.Context, userID string) ([]Device, error)
	// SetDeviceTrust changes a device's trust level and returns the device.
	SetDeviceTrust(ctx context.Context, id string, trust Trust) (Device, error)
	// TouchDevice sets the device's LastSeenAt to at if that is later.
	TouchDevice(ctx context.Context, id string, at time.Time) error

	// CreateSession inserts a session of an existing user and, if
	// DeviceID is set, of an existing device of that user (else
	// not_found), with the hash of its secret.
	CreateSession(ctx context.Context, s Session, h Hash) error
	// Session returns the session with the id.
	Session(ctx context.Context, id string) (Session, error)
	// Sessions lists the sessions of a user, or of every user when userID
	// is empty, oldest first (by id).
	Sessions(ctx context.Context, userID string) ([]Session, error)
	// RevokeSession sets the session's RevokedAt to at unless it is
	// already set and returns the session.
	RevokeSession(ctx context.Context, id string, at time.Time) (Session, error)
	// LookupSession returns the session whose secret has the hash, with
	// its user, in one read. Revoked and expired sessions are returned too.
	LookupSession(ctx context.Context, h Hash) (Session, User, error)
}
