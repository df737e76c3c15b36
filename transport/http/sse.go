package http

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sseFrame is one Server-Sent Events message: the fields of the lines
// before a blank line.
type sseFrame struct {
	// ID is the value of the frame's id field; HasID says whether it had one.
	ID    string
	HasID bool
	// Event is the event type; empty means the default ("message").
	Event string
	// Data is the data lines joined with "\n".
	Data string
}

// appendSSE appends the wire form of f to b. Data is split into one data
// line per line of f.Data (a CR, LF or CRLF ends a line); ID and Event must
// not contain CR or LF, which appendSSE drops if they do.
func appendSSE(b []byte, f sseFrame) []byte {
	if f.HasID {
		b = append(b, "id: "...)
		b = appendField(b, f.ID)
		b = append(b, '\n')
	}
	if f.Event != "" {
		b = append(b, "event: "...)
		b = appendField(b, f.Event)
		b = append(b, '\n')
	}
	data := strings.ReplaceAll(f.Data, "\r\n", "\n")
	data = strings.ReplaceAll(data, "\r", "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

func appendField(b []byte, v string) []byte {
	for i := range len(v) {
		if v[i] != '\r' && v[i] != '\n' {
			b = append(b, v[i])
		}
	}
	return b
}

// errSSETooLong reports a line or a frame larger than the parser's limit.
var errSSETooLong = errors.New("server-sent event exceeds the size limit")

// sseParser reads Server-Sent Events frames from a stream, as the HTML
// specification describes: lines end in LF, CRLF or a lone CR; a line
// starting with a colon is a comment; "field: value" drops one space after
// the colon; data lines accumulate; a blank line ends a frame. Unknown
// fields and retry are ignored. A frame is returned when it had at least
// one field line, so comment-only heartbeats yield nothing.
type sseParser struct {
	r       *bufio.Reader
	max     int  // limit on a line and on a frame's data, in bytes
	skipLF  bool // the last line ended in CR: an LF right after belongs to it
	started bool // a leading byte order mark has been dealt with
	line    []byte
}

func newSSEParser(r io.Reader, max int) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, 16<<10), max: max}
}

// Next returns the next frame. At the end of the input it returns io.EOF,
// or io.ErrUnexpectedEOF when the input ended inside a frame (whose partial
// content is discarded).
func (p *sseParser) Next() (sseFrame, error) {
	var (
		f      sseFrame
		data   bytes.Buffer
		fields bool // a field line has been seen in this frame
		hasDat bool
	)
	for {
		line, err := p.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && (fields || len(line) > 0) {
				return sseFrame{}, io.ErrUnexpectedEOF
			}
			return sseFrame{}, err
		}
		if len(line) == 0 {
			if !fields {
				continue
			}
			f.Data = data.String()
			if hasDat {
				f.Data = f.Data[:len(f.Data)-1]
			}
			return f, nil
		}
		if line[0] == ':' {
			continue
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		fields = true
		switch string(name) {
		case "data":
			if data.Len()+len(value)+1 > p.max {
				return sseFrame{}, errSSETooLong
			}
			data.Write(value)
			data.WriteByte('\n')
			hasDat = true
		case "event":
			f.Event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				f.ID, f.HasID = string(value), true
			}
		}
	}
}

// readLine returns the next line without its terminator. The returned slice
// is valid until the next call. At the end of input it returns the partial
// line, if any, with io.EOF.
func (p *sseParser) readLine() ([]byte, error) {
	p.line = p.line[:0]
	if p.skipLF {
		p.skipLF = false
		b, err := p.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b != '\n' {
			_ = p.r.UnreadByte() // cannot fail right after ReadByte
		}
	}
	if !p.started {
		p.started = true
		if bom, err := p.r.Peek(3); err == nil && string(bom) == "\uFEFF" {
			_, _ = p.r.Discard(3)
		}
	}
	for {
		if p.r.Buffered() == 0 {
			if _, err := p.r.Peek(1); err != nil {
				return p.line, err
			}
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			if len(p.line)+len(buf) > p.max {
				return nil, errSSETooLong
			}
			p.line = append(p.line, buf...)
			_, _ = p.r.Discard(len(buf))
			continue
		}
		if len(p.line)+i > p.max {
			return nil, errSSETooLong
		}
		p.line = append(p.line, buf[:i]...)
		p.skipLF = buf[i] == '\r'
		_, _ = p.r.Discard(i + 1)
		return p.line, nil
	}
}

// String renders a frame for test failures.
func (f sseFrame) String() string {
	return fmt.Sprintf("{id %q (%v) event %q data %q}", f.ID, f.HasID, f.Event, f.Data)
}
