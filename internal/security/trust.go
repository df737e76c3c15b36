package security

import (
	"fmt"
	"strconv"
)

// TrustLevel is how far a device is trusted. Levels are ordered:
// Untrusted < Verified < Trusted. The zero value is Untrusted, so a
// subject whose device is unknown is untrusted.
type TrustLevel uint8

// The trust levels, lowest first.
const (
	// Untrusted is an unknown or unverified device.
	Untrusted TrustLevel = iota
	// Verified is a device whose identity has been verified.
	Verified
	// Trusted is a fully trusted device.
	Trusted
)

// String returns the level's name as the configuration files spell it.
func (t TrustLevel) String() string {
	switch t {
	case Untrusted:
		return "untrusted"
	case Verified:
		return "verified"
	case Trusted:
		return "trusted"
	}
	return "TrustLevel(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the defined levels.
func (t TrustLevel) Valid() bool { return t <= Trusted }

// ParseTrustLevel parses a level's name: trusted, verified or untrusted.
func ParseTrustLevel(s string) (TrustLevel, error) {
	switch s {
	case "untrusted":
		return Untrusted, nil
	case "verified":
		return Verified, nil
	case "trusted":
		return Trusted, nil
	}
	return 0, fmt.Errorf("must be trusted, verified or untrusted, got %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (t TrustLevel) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("invalid trust level %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TrustLevel) UnmarshalText(b []byte) error {
	l, err := ParseTrustLevel(string(b))
	if err != nil {
		return err
	}
	*t = l
	return nil
}
