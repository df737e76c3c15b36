package identity

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coderclaw/coderclaw"
)

// authEntry is a credential Authenticate accepted: what it resolved to,
// for reuse without a store read until fresh.
type authEntry struct {
	principal coderclaw.Principal
	tokenID   string // set for a token
	// expires is when the credential expires (zero: never); an entry is
	// never used past it.
	expires time.Time
	// fresh is when the entry stops being used (the cache TTL).
	fresh time.Time
	// lastTouch is the last-used time (unix nanoseconds) last written to
	// the store, so that only one request per TouchInterval writes it.
	lastTouch atomic.Int64
}

// expiredAt reports whether the credential has expired at now.
func (e *authEntry) expiredAt(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// authCache maps the hash of a secret to what it authenticated as. It
// holds at most max entries; a new one past that replaces one at random,
// which costs the victim a store read, nothing more.
//
// Correctness: an entry is a copy of store state, so every change that
// makes an accepted credential unacceptable (revoking a token or a
// session, disabling a user, changing a user's roles) goes through the
// Service, which first writes the store and then calls invalidate. A
// lookup that read the store before that write could otherwise put the
// stale result into the cache after invalidate ran; it cannot, because
// put only inserts if no invalidate has happened since the lookup began
// (the generation). Hence once a revocation returns, no Authenticate that
// starts afterwards in this process accepts the credential. Changes made
// by another process (another node sharing the database) are seen within
// the TTL. Expiry needs no invalidation: it is checked on every hit.
type authCache struct {
	ttl time.Duration
	max int

	mu  sync.RWMutex
	gen uint64
	m   map[Hash]*authEntry
}

func newAuthCache(ttl time.Duration, size int) *authCache {
	return &authCache{ttl: ttl, max: size, m: make(map[Hash]*authEntry)}
}

// get returns the fresh entry for h, if any, and the generation to pass to
// put after a store read.
func (c *authCache) get(h Hash, now time.Time) (*authEntry, uint64) {
	c.mu.RLock()
	e, gen := c.m[h], c.gen
	c.mu.RUnlock()
	if e != nil && now.Before(e.fresh) {
		return e, gen
	}
	return nil, gen
}

// put caches e for h unless an invalidation happened since gen was read.
func (c *authCache) put(h Hash, e *authEntry, gen uint64, now time.Time) {
	e.fresh = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[h]; !ok && len(c.m) >= c.max {
		for k := range c.m { // map iteration starts anywhere: a random victim
			delete(c.m, k)
			break
		}
	}
	c.m[h] = e
}

// invalidate drops the entries match selects and makes every lookup in
// flight skip its put.
func (c *authCache) invalidate(match func(*authEntry) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if match(e) {
			delete(c.m, k)
		}
	}
}

// principalCopy returns a copy of e's principal that the caller may change.
func (e *authEntry) principalCopy() coderclaw.Principal {
	p := e.principal
	p.Roles = slices.Clone(p.Roles)
	return p
}
