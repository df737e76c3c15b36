package identity_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
)

// TestSecretsNeverStoredOrLogged runs every operation that handles a secret
// (creating, using, refusing and revoking tokens and sessions, expiry,
// disabled users) with every log line captured, then checks that no secret
// appears in the database files (main file, WAL, shared memory) or in the
// logs, while the tokens' prefixes do appear in the file (so the scan does
// see the data).
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, identity.Config{Logger: logger, AutoTrustLocal: true})

	var secrets []string
	var prefixes []string
	e.addUser("alice", "admin")
	e.addUser("bob", "developer")
	for _, user := range []string{"alice", "bob"} {
		for _, ttl := range []time.Duration{0, time.Hour} {
			s, tk := e.createToken(user, ttl)
			secrets, prefixes = append(secrets, s), append(prefixes, tk.Prefix)
			e.mustAuth(s)
			logger.Info("created", "token", tk) // a Token logs as its prefix
		}
	}
	d, err := e.svc.RegisterDevice(e.ctx, "bob", "laptop", true)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, _, err := e.svc.CreateSession(e.ctx, "bob", d.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
		e.mustAuth(s)
	}
	// Refusals of every kind.
	tokens, err := e.svc.ListTokens(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeToken(e.ctx, tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	e.refused(secrets[0], "revoked")
	sessions, err := e.svc.Sessions(e.ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeSession(e.ctx, sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	e.refused(secrets[4], "revoked")
	if _, err := e.svc.SetUserDisabled(e.ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	e.refused(secrets[2], "disabled")
	e.clock.Advance(2 * time.Hour)
	e.refused(secrets[1], "expired")
	bad := []byte(secrets[3])
	bad[20] = '0'
	if bad[20] == secrets[3][20] {
		bad[20] = '1'
	}
	_, err = e.auth(string(bad))
	checkRefusal(t, err, string(bad), "invalid token")
	// A store failure must not leak the secret either.
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets[3:] {
		if _, err := e.auth(s); err == nil || strings.Contains(err.Error(), s) {
			t.Errorf("Authenticate on a closed store: %v", err)
		}
	}

	// The files, after the store is closed (the WAL checkpointed, and
	// whatever is left of it scanned too).
	files, err := filepath.Glob(filepath.Join(e.dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("database files: %v, %v", files, err)
	}
	var data []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	for _, p := range prefixes {
		if !bytes.Contains(data, []byte(p)) {
			t.Fatalf("token prefix %s not found in the database files: the scan misses the data", p)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "created token") || !strings.Contains(out, prefixes[0]) {
		t.Fatalf("the logs lack the expected lines:\n%s", out)
	}
	for i, s := range append(secrets, string(bad)) {
		body := s[identity.DisplayPrefixLen:] // the part never shown
		if bytes.Contains(data, []byte(s)) || bytes.Contains(data, []byte(body)) {
			t.Errorf("secret %d is in the database files", i)
		}
		if strings.Contains(out, s) || strings.Contains(out, body) {
			t.Errorf("secret %d is in the logs", i)
		}
	}
}

// TestConcurrentAuthenticate authenticates from many goroutines while
// tokens are created and revoked. A token whose RevokeToken has returned
// must be refused by every Authenticate that starts afterwards; a token
// never revoked must always be accepted. Run with -race.
func TestConcurrentAuthenticate(t *testing.T) {
	// Touch on every tick of the clock, which the churn advances: last-used
	// writes race with the reads too.
	e := newEnv(t, identity.Config{TouchInterval: time.Nanosecond})
	e.addUser("alice", "developer")
	const keep, churn, readers = 4, 40, 8

	type cred struct {
		secret  string
		id      string
		revoked atomic.Bool // set once RevokeToken returned
	}
	var mu sync.Mutex
	var creds []*cred
	for range keep {
		s, tk := e.createToken("alice", 0)
		creds = append(creds, &cred{secret: s, id: tk.ID})
	}
	pick := func(i int) *cred {
		mu.Lock()
		defer mu.Unlock()
		return creds[i%len(creds)]
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var accepted, refused atomic.Int64
	for r := range readers {
		wg.Go(func() {
			for i := r; !stop.Load(); i++ {
				c := pick(i)
				wasRevoked := c.revoked.Load()
				p, err := e.svc.Authenticate(e.ctx, access.Credentials{Token: c.secret})
				switch {
				case err == nil && wasRevoked:
					t.Errorf("token %s accepted after its revocation returned", c.id)
					return
				case err == nil:
					accepted.Add(1)
					if p.Method != identity.MethodToken {
						t.Errorf("principal %+v", p)
					}
				case !c.revoked.Load() && !wasRevoked && !strings.Contains(err.Error(), "revoked"):
					t.Errorf("token %s refused: %v", c.id, err)
					return
				default:
					refused.Add(1)
				}
			}
		})
	}
	for i := range churn {
		e.clock.Advance(time.Millisecond)
		s, tk := e.createToken("alice", 0)
		c := &cred{secret: s, id: tk.ID}
		mu.Lock()
		creds = append(creds, c)
		mu.Unlock()
		if i%2 == 0 {
			// Let the readers cache it first, sometimes.
			if _, err := e.auth(s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.RevokeToken(e.ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		c.revoked.Store(true)
		if _, err := e.auth(s); err == nil {
			t.Fatalf("token %d accepted right after its revocation", i)
		}
	}
	stop.Store(true)
	wg.Wait()
	for _, c := range creds[:keep] {
		e.mustAuth(c.secret)
	}
	t.Logf("%d accepted, %d refused", accepted.Load(), refused.Load())
	if accepted.Load() == 0 {
		t.Error("no authentication succeeded")
	}
}

func TestTokenPrints(t *testing.T) {
	e := newEnv(t, identity.Config{})
	e.addUser("alice", "developer")
	secret, tk := e.createToken("alice", 0)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", tk, "hash", identity.HashSecret(secret))
	for _, s := range []string{fmt.Sprint(tk), fmt.Sprintf("%v", tk), tk.String(), buf.String()} {
		if strings.Contains(s, secret[identity.DisplayPrefixLen:]) {
			t.Errorf("%q shows the secret", s)
		}
	}
	if !strings.Contains(buf.String(), tk.Prefix) || strings.Contains(buf.String(), tk.UserID) {
		t.Errorf("log line %s: want the prefix only", buf.String())
	}
}

// pausingStore holds the next LookupToken after its store read until told
// to go on.
type pausingStore struct {
	identity.Store
	armed         atomic.Bool
	read, proceed chan struct{}
}

func (p *pausingStore) LookupToken(ctx context.Context, h identity.Hash) (identity.Token, identity.User, error) {
	t, u, err := p.Store.LookupToken(ctx, h)
	if p.armed.CompareAndSwap(true, false) {
		p.read <- struct{}{}
		<-p.proceed
	}
	return t, u, err
}

// TestRevokeDuringLookup pins the cache's generation check: a lookup that
// read the token before a revocation and finishes after it must not leave
// the token cached.
func TestRevokeDuringLookup(t *testing.T) {
	e := newEnv(t, identity.Config{})
	ps := &pausingStore{Store: e.store, read: make(chan struct{}), proceed: make(chan struct{})}
	svc, err := identity.New(identity.Config{Store: ps, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.addUser("alice", "developer")
	secret, tk := e.createToken("alice", 0)
	ps.armed.Store(true)
	done := make(chan error)
	go func() {
		_, err := svc.Authenticate(e.ctx, access.Credentials{Token: secret})
		done <- err
	}()
	<-ps.read // the lookup has read the token, not yet revoked
	if _, err := svc.RevokeToken(e.ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	close(ps.proceed)
	if err := <-done; err != nil {
		t.Fatalf("the lookup that began before the revocation: %v", err)
	}
	if _, err := svc.Authenticate(e.ctx, access.Credentials{Token: secret}); err == nil {
		t.Fatal("the revoked token was accepted: a stale lookup cached it")
	}
}
