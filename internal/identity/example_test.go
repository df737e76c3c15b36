package identity_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// A node opens its store, builds the Service on the store's identities and
// uses it as the Authenticator of access.Guard.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "identity-example")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "coderclaw.db")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	svc, err := identity.New(identity.Config{Store: db.Identities(), AutoTrustLocal: true})
	if err != nil {
		panic(err)
	}

	if _, err := svc.AddUser(ctx, "alice", []string{"developer"}); err != nil {
		panic(err)
	}
	secret, tok, _ := svc.CreateToken(ctx, "alice", "laptop", 0) // show secret to the user, once
	laptop, _ := svc.RegisterDevice(ctx, "alice", "laptop", true)
	sessionSecret, _, _ := svc.CreateSession(ctx, "alice", laptop.ID, nil)

	var authn access.Authenticator = svc
	p, _ := authn.Authenticate(ctx, access.Credentials{Token: secret})
	fmt.Println(p.Method, p.Roles, len(tok.Prefix))
	p, _ = authn.Authenticate(ctx, access.Credentials{Token: sessionSecret})
	fmt.Println(p.Method, p.Roles, p.DeviceID == laptop.ID, laptop.Trust)

	_, _ = svc.RevokeToken(ctx, tok.ID)
	_, err = authn.Authenticate(ctx, access.Credentials{Token: secret})
	fmt.Println(err)
	// Output:
	// token [developer] 12
	// session [developer] true trusted
	// unauthenticated: token revoked
}
