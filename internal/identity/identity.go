// Package identity holds CoderClaw's local identities: users with roles,
// their API tokens, their devices with a trust level, and sessions that
// bind a user, a device and a set of roles for a limited time. Its Service
// manages them and is an access.Authenticator: it turns the bearer token a
// request presents (an API token or a session's secret) into a
// coderclaw.Principal.
//
// # Secrets
//
// A token's or a session's secret is 32 random bytes, returned once by
// CreateToken or CreateSession as ccw_… or ccs_… (see SecretLen) and never
// again: the store keeps only its SHA-256 and looks it up by that hash, so
// the database holds nothing that authenticates, and the lookup's timing
// depends on the hash, never on how much of a guessed secret is right.
// Records print without secrets: a Token prints as its prefix, and no
// error message or log line of this package contains a secret.
//
// # Authentication
//
// A token authenticates as its user with the user's current roles (Method
// "token"). A session secret authenticates as the session (Method
// "session", with SessionID and DeviceID set) with the session's roles,
// narrowed to the roles its user still holds unless the user is an admin.
// A revoked or expired credential, a disabled user, an unknown or
// malformed secret and no secret at all fail with a *coderclaw.Error of
// code unauthenticated; a store failure fails with code unavailable.
// Accepted credentials are cached for Config.CacheTTL; revoking a
// credential, disabling a user or changing their roles through the
// Service takes effect for every later request at once (see authCache for
// the argument), while changes made by another process sharing the store
// are seen within the TTL. A credential's LastUsedAt (a session's device's
// LastSeenAt) is written at most once per Config.TouchInterval.
//
// # Errors
//
// Every method returns *coderclaw.Error values for what a caller did wrong,
// with a message naming the field: invalid (an empty or malformed name, an
// unknown role or trust level, a negative duration), not_found (an unknown
// user, token, device or session), conflict (a duplicate user name or
// device name), forbidden (a disabled user, session roles the user does not
// hold). Other errors are store failures, wrapped with the operation.
//
// The Service is safe for concurrent use and holds no goroutines; its zero
// value is not usable: create it with New. The records and the Store seam
// live in package idstore (so that a store backend need not import this
// package); this package re-exports them.
package identity

import (
	"github.com/coderclaw/coderclaw/internal/identity/idstore"
)

// The records and the Store seam, defined in idstore.
type (
	// User is a local identity.
	User = idstore.User
	// Token is an API token, without its secret.
	Token = idstore.Token
	// Device is a machine of a user with a trust level.
	Device = idstore.Device
	// Session binds a user, a device and roles until it expires.
	Session = idstore.Session
	// Trust is a device's trust level.
	Trust = idstore.Trust
	// Hash is the stored form of a secret.
	Hash = idstore.Hash
	// Store persists the records.
	Store = idstore.Store
)

// The trust levels.
const (
	TrustUntrusted = idstore.TrustUntrusted
	TrustVerified  = idstore.TrustVerified
	TrustTrusted   = idstore.TrustTrusted
)

// AdminRole is the role whose holders may give a session any role.
const AdminRole = "admin"

// BuiltinRoles returns the built-in role names: the valid roles when
// Config.ValidRole is nil.
func BuiltinRoles() []string { return []string{"admin", "developer", "readonly", "ci"} }

// Principal methods.
const (
	MethodToken   = "token"
	MethodSession = "session"
)
