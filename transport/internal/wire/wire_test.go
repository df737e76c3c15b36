package wire

import (
	"reflect"
	"testing"
	"time"
)

func TestPosition(t *testing.T) {
	data := []byte("{\n  \"a\": x\n}")
	for _, c := range []struct {
		off  int64
		want string
	}{
		{0, "line 1, column 1 (byte 0)"},
		{9, "line 2, column 8 (byte 9)"},
		{-5, "line 1, column 1 (byte 0)"},
		{100, "line 3, column 2 (byte 12)"},
	} {
		if got := Position(data, c.off); got != c.want {
			t.Errorf("Position(%d) = %q, want %q", c.off, got, c.want)
		}
	}
	data = []byte("ab\ncd\n")
	for _, c := range []struct {
		off  int64
		want string
	}{
		{2, "line 1, column 3 (byte 2)"}, {3, "line 2, column 1 (byte 3)"}, {99, "line 3, column 1 (byte 6)"},
	} {
		if got := Position(data, c.off); got != c.want {
			t.Errorf("Position(%d) = %q, want %q", c.off, got, c.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	var p *int
	for _, c := range []struct {
		v    any
		want string
	}{
		{"", "a string"}, {true, "a boolean"}, {int64(1), "an integer"}, {1.5, "a number"},
		{map[string]string{}, "an object"}, {struct{}{}, "an object"}, {[]int{}, "an array"},
		{time.Time{}, "an RFC 3339 time string"}, {p, "an integer"}, {complex(1, 1), "a complex128"},
	} {
		if got := KindOf(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("KindOf(%T) = %q, want %q", c.v, got, c.want)
		}
	}
	if KindOf(nil) != "a value" {
		t.Errorf("KindOf(nil)")
	}
}
