// Package wire holds what the transports share about describing bad input
// on the wire: where in a body a JSON error is and what kind of JSON value
// a field wanted. Transports may not import each other; they import this.
package wire

import (
	"bytes"
	"fmt"
	"reflect"
)

// Position renders a byte offset of data as "line L, column C (byte N)",
// line and column counted from 1.
func Position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d (byte %d)", line, col, off)
}

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// KindOf names the JSON kind a Go type decodes from, for messages such as
// `field "priority": want an integer, got JSON string`.
func KindOf(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		if t.PkgPath() == "time" && t.Name() == "Time" {
			return "an RFC 3339 time string"
		}
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return KindOf(t.Elem())
	}
	return "a " + t.String()
}
