package login

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultMaxPending bounds each provider's sign-ins in progress when its
// config leaves MaxPending zero.
const DefaultMaxPending = 1024

// pending is a bounded table of sign-ins in progress, each until its
// expiry. Expired entries are swept when the table is full. It is safe for
// concurrent use.
type pending[T any] struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]pendingEntry[T]
}

type pendingEntry[T any] struct {
	v       T
	expires time.Time
}

func newPending[T any](max int, now func() time.Time) *pending[T] {
	return &pending[T]{max: max, now: now, entries: map[string]pendingEntry[T]{}}
}

// add stores v under a new random key until expires and returns the key;
// it fails when the table is full of live entries.
func (p *pending[T]) add(v T, expires time.Time) (string, error) {
	key := randomString()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.entries) >= p.max {
		now := p.now()
		for k, e := range p.entries {
			if !now.Before(e.expires) {
				delete(p.entries, k)
			}
		}
		if len(p.entries) >= p.max {
			return "", unavailable("too many sign-ins in progress: try again in a few minutes")
		}
	}
	p.entries[key] = pendingEntry[T]{v: v, expires: expires}
	return key, nil
}

// get returns the live entry under key.
func (p *pending[T]) get(key string) (T, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookup(key)
}

// take removes the entry under key and returns it if it was live.
func (p *pending[T]) take(key string) (T, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.lookup(key)
	delete(p.entries, key)
	return v, ok
}

// remove forgets the entry under key.
func (p *pending[T]) remove(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.entries, key)
}

func (p *pending[T]) lookup(key string) (T, bool) {
	e, ok := p.entries[key]
	if !ok {
		var zero T
		return zero, false
	}
	if !p.now().Before(e.expires) {
		delete(p.entries, key)
		var zero T
		return zero, false
	}
	return e.v, true
}

// randomString returns 32 random bytes, base64url-encoded: an unguessable
// state, nonce or key.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
