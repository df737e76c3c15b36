package skill

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// clip is an io.Writer that keeps the first head and the last tail bytes
// written, counting what falls between, so that a command's output stays
// bounded and still shows how it began and how it ended. The zero value
// keeps nothing; it is not safe for concurrent use.
type clip struct {
	head, tail int
	first      []byte
	last       []byte
	dropped    int64
}

func newClip(head, tail int) *clip { return &clip{head: head, tail: tail} }

// Write implements io.Writer; it never fails.
func (c *clip) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.head - len(c.first); room > 0 {
		take := min(room, len(p))
		c.first = append(c.first, p[:take]...)
		p = p[take:]
	}
	if len(p) == 0 {
		return n, nil
	}
	c.last = append(c.last, p...)
	if over := len(c.last) - c.tail; over > 0 {
		c.dropped += int64(over)
		// Reslicing leaves the front of the array behind; append
		// reallocates once its capacity is used, so memory stays bounded.
		c.last = c.last[over:]
	}
	return n, nil
}

// Clipped reports whether anything was dropped.
func (c *clip) Clipped() bool { return c.dropped > 0 }

// String returns the kept output, valid UTF-8, with a marker line where
// bytes were dropped.
func (c *clip) String() string {
	if c.dropped == 0 {
		return strings.ToValidUTF8(string(c.first)+string(c.last), "\uFFFD")
	}
	head := trimInvalidEnd(c.first)
	tail := trimInvalidStart(c.last)
	var b strings.Builder
	b.WriteString(strings.ToValidUTF8(head, "\uFFFD"))
	if head != "" && !strings.HasSuffix(head, "\n") {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "[... %d bytes of output omitted ...]\n", c.dropped)
	b.WriteString(strings.ToValidUTF8(tail, "\uFFFD"))
	return b.String()
}

// trimInvalidEnd drops a rune cut in half at the end of b.
func trimInvalidEnd(b []byte) string {
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.Valid(b[:len(b)-i]) {
			return string(b[:len(b)-i])
		}
	}
	return string(b)
}

// trimInvalidStart drops a rune cut in half at the start of b.
func trimInvalidStart(b []byte) string {
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.RuneStart(b[i]) {
			return string(b[i:])
		}
	}
	return string(b)
}

// clipLine shortens one line of text to at most max bytes, on a rune
// boundary, marking the cut.
func clipLine(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" [... %d more bytes]", len(s)-cut)
}
