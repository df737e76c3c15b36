package identity

import (
	"math/big"
	"strings"
	"testing"
)

func TestSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{TokenSecretPrefix, SessionSecretPrefix} {
		for range 200 {
			s := newSecret(prefix)
			if len(s) != SecretLen || !strings.HasPrefix(s, prefix) {
				t.Fatalf("secret %d characters starting %q", len(s), s[:4])
			}
			want := tokenSecret
			if prefix == SessionSecretPrefix {
				want = sessionSecret
			}
			if got := parseSecret(s); got != want {
				t.Fatalf("parseSecret of a new secret = %d, want %d", got, want)
			}
			if seen[s] {
				t.Fatal("a secret repeated")
			}
			seen[s] = true
			// Any one changed character is caught by the checksum or the
			// alphabet.
			for i := secretKindLen; i < len(s); i += 7 {
				b := []byte(s)
				b[i] = base62Digits[(strings.IndexByte(base62Digits, b[i])+1)%62]
				if parseSecret(string(b)) != notSecret {
					t.Fatalf("a secret with character %d changed was accepted", i)
				}
			}
		}
	}
	// A known answer, computed independently: the bytes 0..31 as a token.
	if got := parseSecret("ccw_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf0Dh36J"); got != tokenSecret {
		t.Errorf("parseSecret of the known token = %d, want %d", got, tokenSecret)
	}
	raw := make([]byte, secretBytes)
	for i := range raw {
		raw[i] = byte(i)
	}
	body := make([]byte, secretBodyLen)
	base62(body, raw)
	if string(body) != "003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf" {
		t.Errorf("base62 of 0..31 = %s", body)
	}
	for _, s := range []string{"", "ccw_", "ccw_short", strings.Repeat("x", SecretLen),
		"ccx_" + strings.Repeat("0", SecretLen-4), "ccw_" + strings.Repeat("-", SecretLen-4)} {
		if parseSecret(s) != notSecret {
			t.Errorf("parseSecret(%q) accepted it", s)
		}
	}
}

func TestBase62(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		size int
	}{
		{[]byte{0}, 2},
		{[]byte{61}, 2},
		{[]byte{62}, 2},
		{[]byte{0xff, 0xff, 0xff, 0xff}, 6},
		{[]byte("0123456789abcdef0123456789abcdef"), 43},
		{[]byte(strings.Repeat("\xff", 32)), 43},
	} {
		dst := make([]byte, tc.size)
		base62(dst, tc.in)
		n := new(big.Int).SetBytes(tc.in)
		want := n.Text(62)
		// big.Int's base62 digits are 0-9a-zA-Z; ours are 0-9A-Za-z.
		want = strings.Map(func(r rune) rune {
			switch {
			case 'a' <= r && r <= 'z':
				return r - 'a' + 'A'
			case 'A' <= r && r <= 'Z':
				return r - 'A' + 'a'
			}
			return r
		}, want)
		want = strings.Repeat("0", tc.size-len(want)) + want
		if string(dst) != want {
			t.Errorf("base62(%x) = %s, want %s", tc.in, dst, want)
		}
	}
}

func FuzzParseSecret(f *testing.F) {
	f.Add(newSecret(TokenSecretPrefix))
	f.Add(newSecret(SessionSecretPrefix))
	f.Add("ccw_")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, s string) {
		kind := parseSecret(s)
		if kind == notSecret {
			return
		}
		if len(s) != SecretLen {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		var sum [secretCheckLen]byte
		checksum(sum[:], []byte(s[:secretKindLen+secretBodyLen]))
		if string(sum[:]) != s[secretKindLen+secretBodyLen:] {
			t.Fatalf("accepted %q with a wrong checksum", s)
		}
		if (kind == tokenSecret) != strings.HasPrefix(s, TokenSecretPrefix) {
			t.Fatalf("kind %d for %q", kind, s)
		}
	})
}
