package login_test

import (
	"context"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/identity"
)

// fuzzUsers is an in-memory stand-in for the identity service where a
// real store would slow fuzzing down: every user exists.
type fuzzUsers struct{}

func (fuzzUsers) User(_ context.Context, name string) (identity.User, error) {
	if name == "" {
		return identity.User{}, coderclaw.Errorf(coderclaw.CodeInvalid, "user: must not be empty")
	}
	return identity.User{ID: "u-" + name, Name: name, Roles: []string{"readonly"}}, nil
}

func (fuzzUsers) AddUser(_ context.Context, name string, roles []string) (identity.User, error) {
	return identity.User{ID: "u-" + name, Name: name, Roles: roles}, nil
}

func (fuzzUsers) CreateSession(_ context.Context, user, _ string, roles []string) (string, identity.Session, error) {
	return "ccs_fuzz", identity.Session{ID: "s", UserID: user, Roles: roles, ExpiresAt: time.Unix(2e9, 0)}, nil
}
