package grpc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// envelope frames a message as gRPC and gRPC-Web do.
func envelope(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// TestMalformedRequest posts bodies that are not a SubmitRequest over each
// protocol's raw wire format: each is InvalidArgument, and no task is made.
func TestMalformedRequest(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	base := serve(t, NewHandler(n, HandlerOptions{}))
	bodies := map[string][]byte{
		"garbage":           {0xff, 0xff, 0xff, 0xff},
		"truncated field":   {0x12, 0x05, 'a', 'b'},
		"invalid UTF-8":     {0x12, 0x01, 0xff},
		"bad varint":        {0x50, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"group wire type 4": {0x0c},
	}
	for _, p := range protocols() {
		hc := &http.Client{Transport: newTransport(p)}
		t.Cleanup(hc.CloseIdleConnections)
		for name, body := range bodies {
			var req *http.Request
			var err error
			url := base + "/coderclaw.v1.RuntimeService/Submit"
			switch p {
			case ProtocolConnect:
				req, err = http.NewRequestWithContext(testCtx(t), http.MethodPost, url, bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Content-Type", "application/proto")
				}
			case ProtocolGRPC, ProtocolGRPCWeb:
				req, err = http.NewRequestWithContext(testCtx(t), http.MethodPost, url, bytes.NewReader(envelope(body)))
				if err == nil {
					req.Header.Set("Content-Type", map[Protocol]string{ProtocolGRPC: "application/grpc", ProtocolGRPCWeb: "application/grpc-web+proto"}[p])
					req.Header.Set("TE", "trailers")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", p, name, err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			switch p {
			case ProtocolConnect:
				var e struct{ Code, Message string }
				if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &e) != nil || e.Code != "invalid_argument" {
					t.Errorf("%s %s: %s %s", p, name, resp.Status, b)
				}
			default:
				status := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
				if status == "" && p == ProtocolGRPCWeb {
					// gRPC-Web carries trailers in the body's last frame.
					if i := bytes.Index(b, []byte("grpc-status:")); i >= 0 {
						status = strings.TrimSpace(strings.SplitN(string(b[i+len("grpc-status:"):]), "\r\n", 2)[0])
					}
				}
				if status != "3" {
					t.Errorf("%s %s: grpc-status %q (HTTP %s, body %q), want 3 (InvalidArgument)", p, name, status, resp.Status, b)
				}
			}
		}
	}
	page, err := n.Tasks(testCtx(t), coderclaw.Filter{})
	if err != nil || len(page.Tasks) != 0 {
		t.Errorf("malformed requests made %d tasks (%v)", len(page.Tasks), err)
	}
}

// TestOversizedRequest checks that a request larger than MaxRecvBytes is
// refused before the runtime sees it and reads back as invalid.
func TestOversizedRequest(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("the runtime was reached")
	base := serve(t, NewHandler(fixedRuntime{sentinel}, HandlerOptions{MaxRecvBytes: 1 << 10}))
	for _, p := range protocols() {
		_, err := newClient(t, base, p).Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "noop", Input: strings.Repeat("x", 2<<10)})
		var ce *coderclaw.Error
		if !errors.As(err, &ce) || ce.Code != coderclaw.CodeInvalid || !strings.Contains(ce.Message, "larger than configured max") {
			t.Errorf("%s: got %v, want invalid naming the limit", p, err)
		}
	}
}

// TestInvalidUTF8 checks what crosses for text that is not valid UTF-8:
// a SubmitRequest is refused as the runtime refuses it, and the runtime's
// answers have each bad byte replaced, as encoding/json does.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	n := nodetest.New(t)
	c := newClient(t, serve(t, NewHandler(n, HandlerOptions{})), ProtocolGRPC)
	bad := coderclaw.SubmitRequest{AgentID: "noop", Input: "a\xffb"}
	want := bad.Validate()
	if _, err := c.Submit(testCtx(t), bad); err == nil || err.Error() != want.Error() {
		t.Errorf("submit: got %v, want %v", err, want)
	}
	task, err := c.Submit(testCtx(t), coderclaw.SubmitRequest{AgentID: "shell", Input: `printf 'x\377\376y\n'`, Description: "d\xff"})
	if err != nil {
		t.Fatal(err)
	}
	if task.Description != "d\uFFFD" {
		t.Errorf("description %q", task.Description)
	}
	var last coderclaw.Event
	for ev, err := range c.Stream(testCtx(t), task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	got, err := c.Task(testCtx(t), task.ID)
	if err != nil || last.Status != coderclaw.StatusCompleted || got.Output != "x\uFFFD\uFFFDy" {
		t.Errorf("task %q %s, %v", got.Output, last.Status, err)
	}
	if utf8Safe("ok ✓") != "ok ✓" || utf8Safe("\xff") != "\uFFFD" {
		t.Error("utf8Safe")
	}
}
