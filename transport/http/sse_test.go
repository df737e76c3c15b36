package http

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// parseAll parses frames until an error and returns them with that error.
func parseAll(r io.Reader, max int) ([]sseFrame, error) {
	p := newSSEParser(r, max)
	var out []sseFrame
	for {
		f, err := p.Next()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func TestSSEParser(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     []sseFrame
		err      error
	}{
		{"lf", "id: 1\nevent: log\ndata: {\"a\":1}\n\n", []sseFrame{{ID: "1", HasID: true, Event: "log", Data: `{"a":1}`}}, io.EOF},
		{"crlf", "id: 1\r\nevent: log\r\ndata: x\r\n\r\n", []sseFrame{{ID: "1", HasID: true, Event: "log", Data: "x"}}, io.EOF},
		{"cr", "id: 1\revent: log\rdata: x\r\r", []sseFrame{{ID: "1", HasID: true, Event: "log", Data: "x"}}, io.EOF},
		{"multi-line data", "data: a\ndata:b\ndata:  c\ndata\n\n", []sseFrame{{Data: "a\nb\n c\n"}}, io.EOF},
		{"comments and heartbeats", ": hi\n\n: heartbeat\ndata: x\n: inside\n\n:\n\n", []sseFrame{{Data: "x"}}, io.EOF},
		{"two frames", "id: 1\ndata: a\n\nid: 2\ndata: b\n\n", []sseFrame{{ID: "1", HasID: true, Data: "a"}, {ID: "2", HasID: true, Data: "b"}}, io.EOF},
		{"blank lines between", "\n\n\ndata: a\n\n\n\n", []sseFrame{{Data: "a"}}, io.EOF},
		{"no space", "event:end\ndata:{}\n\n", []sseFrame{{Event: "end", Data: "{}"}}, io.EOF},
		{"colon in value", "data: a: b\n\n", []sseFrame{{Data: "a: b"}}, io.EOF},
		{"id with NUL ignored", "id: 1\x002\ndata: a\n\n", []sseFrame{{Data: "a"}}, io.EOF},
		{"unknown field and retry", "retry: 100\nfoo: bar\ndata: a\n\n", []sseFrame{{Data: "a"}}, io.EOF},
		{"bom", "\uFEFFdata: a\n\n", []sseFrame{{Data: "a"}}, io.EOF},
		{"partial frame", "data: a\n\ndata: b\n", []sseFrame{{Data: "a"}}, io.ErrUnexpectedEOF},
		{"partial line", "data: a\n\ndata: b", []sseFrame{{Data: "a"}}, io.ErrUnexpectedEOF},
		{"trailing comment", "data: a\n\n: bye", []sseFrame{{Data: "a"}}, io.ErrUnexpectedEOF},
		{"too long line", "data: " + strings.Repeat("x", 100) + "\n\n", nil, errSSETooLong},
		{"too long data", strings.Repeat("data: "+strings.Repeat("x", 30)+"\n", 4) + "\n", nil, errSSETooLong},
	}
	for _, tc := range cases {
		for _, rd := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"bytewise", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		} {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := parseAll(rd.r(tc.in), 64)
				if !errors.Is(err, tc.err) {
					t.Errorf("error %v, want %v", err, tc.err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("frames %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestAppendSSE(t *testing.T) {
	t.Parallel()
	got := string(appendSSE(nil, sseFrame{ID: "7", HasID: true, Event: "log", Data: "a\nb\r\nc\rd"}))
	want := "id: 7\nevent: log\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := string(appendSSE(nil, sseFrame{Event: "e\nvil", Data: ""})); got != "event: evil\ndata: \n\n" {
		t.Errorf("got %q", got)
	}
}

// FuzzSSEParser checks that the parser never panics, that its frames hold
// no line breaks where none can be, and that writing its frames back and
// parsing them again gives the same frames.
func FuzzSSEParser(f *testing.F) {
	for _, s := range []string{
		"id: 1\nevent: status\ndata: {\"seq\":1}\n\n",
		"id: 1\r\nevent: log\r\ndata: a\r\ndata: b\r\n\r\n",
		"data: a\rdata: b\r\r",
		": heartbeat\n\n",
		"\uFEFFdata: x\n\n",
		"event: end\ndata: {}\n\n",
		"id: 1\x00\ndata\n\n",
		"data: partial",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 4 << 10
		frames, err := parseAll(bytes.NewReader(in), max)
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errSSETooLong) {
			t.Fatalf("unexpected error %v", err)
		}
		var out []byte
		for _, fr := range frames {
			if strings.ContainsAny(fr.ID, "\r\n\x00") || strings.ContainsAny(fr.Event, "\r\n") || strings.Contains(fr.Data, "\r") {
				t.Fatalf("frame %v holds a line break", fr)
			}
			if !fr.HasID && fr.ID != "" {
				t.Fatalf("frame %v has an id value without an id", fr)
			}
			out = appendSSE(out, fr)
		}
		again, err := parseAll(bytes.NewReader(out), max+16)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !slices.Equal(again, frames) {
			t.Fatalf("round trip:\n got %v\nwant %v", again, frames)
		}
	})
}
