package identity

import (
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"
)

// Secret formats. A secret is its kind's prefix, 32 random bytes in base62
// (43 characters, zero-padded) and a CRC-32 of everything before it in
// base62 (6 characters): 53 characters, safe in a header, a shell and a
// URL, selectable with a double click. The checksum lets Authenticate turn
// away mistyped and made-up tokens without a store read, and lets secret
// scanners recognise a real one; it adds nothing to a secret's strength,
// which is the 256 random bits.
const (
	// TokenSecretPrefix starts every API token secret.
	TokenSecretPrefix = "ccw_"
	// SessionSecretPrefix starts every session secret.
	SessionSecretPrefix = "ccs_"
	// SecretLen is the length of every secret.
	SecretLen = secretKindLen + secretBodyLen + secretCheckLen
	// DisplayPrefixLen is the length of Token.Prefix: the kind prefix and
	// the secret's first 8 characters (about 47 of its 256 bits).
	DisplayPrefixLen = secretKindLen + 8

	secretKindLen  = 4
	secretBytes    = 32
	secretBodyLen  = 43 // 62^43 > 2^256
	secretCheckLen = 6  // 62^6 > 2^32
	base62Digits   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// secretKind tells the credentials Authenticate accepts apart.
type secretKind int

const (
	notSecret secretKind = iota
	tokenSecret
	sessionSecret
)

// newSecret returns a new secret with the kind prefix.
func newSecret(prefix string) string {
	var raw [secretBytes]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails; it crashes the program if it cannot read
	b := make([]byte, SecretLen)
	copy(b, prefix)
	base62(b[secretKindLen:secretKindLen+secretBodyLen], raw[:])
	checksum(b[secretKindLen+secretBodyLen:], b[:secretKindLen+secretBodyLen])
	return string(b)
}

// parseSecret returns the kind of a well-formed secret (length, prefix,
// alphabet and checksum), or notSecret. Nothing it does depends on any
// stored secret, so its timing tells nothing about one.
func parseSecret(s string) secretKind {
	if len(s) != SecretLen {
		return notSecret
	}
	var kind secretKind
	switch s[:secretKindLen] {
	case TokenSecretPrefix:
		kind = tokenSecret
	case SessionSecretPrefix:
		kind = sessionSecret
	default:
		return notSecret
	}
	for i := secretKindLen; i < len(s); i++ {
		if !isBase62(s[i]) {
			return notSecret
		}
	}
	var data [secretKindLen + secretBodyLen]byte
	copy(data[:], s)
	var want [secretCheckLen]byte
	checksum(want[:], data[:])
	if string(want[:]) != s[len(data):] {
		return notSecret
	}
	return kind
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// checksum writes the base62 CRC-32 (IEEE) of data into dst.
func checksum(dst, data []byte) {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	base62(dst, sum[:])
}

// base62 writes the big-endian number src (at most 32 bytes) into dst in
// base62, zero-padded on the left to fill dst, which must be long enough.
func base62(dst, src []byte) {
	var buf [secretBytes]byte
	num := buf[:copy(buf[:], src)]
	for i := len(dst) - 1; i >= 0; i-- {
		var rem uint
		for j, d := range num {
			acc := rem<<8 | uint(d)
			num[j] = byte(acc / 62)
			rem = acc % 62
		}
		dst[i] = base62Digits[rem]
	}
}

// displayPrefix is the part of a secret kept to tell credentials apart.
func displayPrefix(secret string) string { return secret[:DisplayPrefixLen] }
