package identity_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/identity"
)

// BenchmarkAuthenticateToken measures Authenticate of an API token on a
// SQLite store holding 1000 tokens: "cached" is the steady state (the
// credential was accepted within CacheTTL), "store" turns the cache off so
// that every call parses and hashes the secret and reads the token and its
// user from the read pool. The parallel variants run on every CPU. The
// clock stands still, so LastUsedAt is written once, as it is once per
// TouchInterval in a node.
func BenchmarkAuthenticateToken(b *testing.B) {
	for _, bc := range []struct {
		name     string
		cacheTTL time.Duration
		parallel bool
	}{
		{"cached", 0, false},
		{"store", -1, false},
		{"cached/parallel", 0, true},
		{"store/parallel", -1, true},
	} {
		// Set up once: b.Run calls the function again for every b.N tried.
		e, secrets := benchEnv(b, bc.cacheTTL)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			if !bc.parallel {
				for i := 0; b.Loop(); i++ {
					if _, err := e.svc.Authenticate(e.ctx, access.Credentials{Token: secrets[i%len(secrets)]}); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if _, err := e.svc.Authenticate(e.ctx, access.Credentials{Token: secrets[i%len(secrets)]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchEnv returns a Service with 1000 tokens, each authenticated once
// (statements prepared, LastUsedAt written, cache filled).
func benchEnv(b *testing.B, cacheTTL time.Duration) (*env, []string) {
	e := newEnv(b, identity.Config{CacheTTL: cacheTTL})
	e.addUser("alice", "developer")
	secrets := make([]string, 1000)
	const workers = 20 // concurrent writes share commits
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(secrets); i += workers {
				s, _, err := e.svc.CreateToken(e.ctx, "alice", fmt.Sprint("t", i), 0)
				if err == nil {
					_, err = e.auth(s)
				}
				if err != nil {
					b.Error(err)
					return
				}
				secrets[i] = s
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return e, secrets
}
