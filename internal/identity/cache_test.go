package identity

import (
	"testing"
	"time"
)

func TestAuthCacheBounded(t *testing.T) {
	c := newAuthCache(time.Minute, 3)
	now := time.Unix(0, 0)
	for i := range 10 {
		_, gen := c.get(Hash{byte(i)}, now)
		c.put(Hash{byte(i)}, &authEntry{tokenID: "t"}, gen, now)
		if len(c.m) > 3 {
			t.Fatalf("%d entries, want at most 3", len(c.m))
		}
	}
	if e, _ := c.get(Hash{9}, now); e == nil {
		t.Error("the newest entry is missing")
	}
	if e, _ := c.get(Hash{9}, now.Add(time.Minute)); e != nil {
		t.Error("an entry outlived the TTL")
	}
	_, gen := c.get(Hash{42}, now)
	c.invalidate(func(*authEntry) bool { return false })
	c.put(Hash{42}, &authEntry{}, gen, now)
	if e, _ := c.get(Hash{42}, now); e != nil {
		t.Error("a lookup older than an invalidation was cached")
	}
}
