package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
)

// Authenticate implements access.Authenticator: it resolves the bearer
// token of c, an API token or a session secret, to a principal (see the
// package documentation). Its errors never contain the secret.
func (s *Service) Authenticate(ctx context.Context, c access.Credentials) (coderclaw.Principal, error) {
	if c.Token == "" {
		return coderclaw.Principal{}, coderclaw.Errorf(coderclaw.CodeUnauthenticated, "authentication required: send Authorization: Bearer TOKEN")
	}
	kind := parseSecret(c.Token)
	if kind == notSecret {
		return coderclaw.Principal{}, s.refuse(ctx, c, "invalid token", "reason", "malformed")
	}
	h := HashSecret(c.Token)
	now := s.now()
	var gen uint64
	if s.cache != nil {
		e, g := s.cache.get(h, now)
		if e != nil {
			if e.expiredAt(now) {
				return coderclaw.Principal{}, s.refuse(ctx, c, e.principal.Method+" expired", "user_id", e.principal.UserID)
			}
			s.touch(ctx, e, now)
			return e.principalCopy(), nil
		}
		gen = g
	}
	var e *authEntry
	var err error
	if kind == tokenSecret {
		e, err = s.lookupToken(ctx, c, h, now)
	} else {
		e, err = s.lookupSession(ctx, c, h, now)
	}
	if err != nil {
		return coderclaw.Principal{}, err
	}
	if s.cache != nil {
		s.cache.put(h, e, gen, now)
	}
	s.touch(ctx, e, now)
	return e.principalCopy(), nil
}

func (s *Service) lookupToken(ctx context.Context, c access.Credentials, h Hash, now time.Time) (*authEntry, error) {
	t, u, err := s.store.LookupToken(ctx, h)
	switch {
	case isNotFound(err):
		return nil, s.refuse(ctx, c, "invalid token", "reason", "unknown token")
	case err != nil:
		return nil, s.unavailable(ctx, err)
	case u.Disabled:
		return nil, s.refuse(ctx, c, "user disabled", "token_id", t.ID, "user_id", u.ID)
	case t.RevokedAt != nil:
		return nil, s.refuse(ctx, c, "token revoked", "token_id", t.ID, "user_id", u.ID)
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return nil, s.refuse(ctx, c, "token expired", "token_id", t.ID, "user_id", u.ID)
	}
	e := &authEntry{
		principal: coderclaw.Principal{UserID: u.ID, Roles: slices.Clone(u.Roles), Method: MethodToken},
		tokenID:   t.ID,
	}
	if t.ExpiresAt != nil {
		e.expires = *t.ExpiresAt
	}
	if t.LastUsedAt != nil {
		e.lastTouch.Store(t.LastUsedAt.UnixNano())
	}
	return e, nil
}

func (s *Service) lookupSession(ctx context.Context, c access.Credentials, h Hash, now time.Time) (*authEntry, error) {
	sess, u, err := s.store.LookupSession(ctx, h)
	switch {
	case isNotFound(err):
		return nil, s.refuse(ctx, c, "invalid token", "reason", "unknown session")
	case err != nil:
		return nil, s.unavailable(ctx, err)
	case u.Disabled:
		return nil, s.refuse(ctx, c, "user disabled", "session_id", sess.ID, "user_id", u.ID)
	case sess.RevokedAt != nil:
		return nil, s.refuse(ctx, c, "session revoked", "session_id", sess.ID, "user_id", u.ID)
	case !now.Before(sess.ExpiresAt):
		return nil, s.refuse(ctx, c, "session expired", "session_id", sess.ID, "user_id", u.ID)
	}
	roles := slices.Clone(sess.Roles)
	if !u.HasRole(AdminRole) {
		// A role taken from the user since the session began is gone
		// from the session too.
		roles = slices.DeleteFunc(roles, func(r string) bool { return !u.HasRole(r) })
	}
	return &authEntry{
		principal: coderclaw.Principal{UserID: u.ID, SessionID: sess.ID, DeviceID: sess.DeviceID, Roles: roles, Method: MethodSession},
		expires:   sess.ExpiresAt,
	}, nil
}

// refuse logs a refused credential and returns the unauthenticated error
// with msg. The log line has the credential's ids, never its secret.
func (s *Service) refuse(ctx context.Context, c access.Credentials, msg string, attrs ...any) error {
	s.log.InfoContext(ctx, "authentication refused", append([]any{"why", msg, "remote", c.RemoteAddr}, attrs...)...)
	return coderclaw.Errorf(coderclaw.CodeUnauthenticated, "%s", msg)
}

// unavailable reports a store failure during authentication: code
// unavailable for the caller, the cause in the chain and the log.
func (s *Service) unavailable(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("authenticate: %w", err)
	}
	s.log.ErrorContext(ctx, "authentication failed: identity store", "err", err)
	return fmt.Errorf("authenticate: %w: %w", coderclaw.Errorf(coderclaw.CodeUnavailable, "authentication is unavailable"), err)
}

// touch records that the credential was used: the token's LastUsedAt or
// the session's device's LastSeenAt, at most once per TouchInterval per
// credential (one request wins the entry's compare-and-swap). A failure is
// logged and does not fail the request.
func (s *Service) touch(ctx context.Context, e *authEntry, now time.Time) {
	if s.cfg.TouchInterval < 0 || e.tokenID == "" && e.principal.DeviceID == "" {
		return
	}
	last, at := e.lastTouch.Load(), now.UnixNano()
	if at-last < int64(s.cfg.TouchInterval) || !e.lastTouch.CompareAndSwap(last, at) {
		return
	}
	var err error
	if e.tokenID != "" {
		err = s.store.TouchToken(ctx, e.tokenID, now)
	} else {
		err = s.store.TouchDevice(ctx, e.principal.DeviceID, now)
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not record credential use", "token_id", e.tokenID,
			"device_id", e.principal.DeviceID, "err", err)
	}
}
