package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// FuzzParameters checks that any schema is either refused or turned into
// function parameters that marshal to an object schema.
func FuzzParameters(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"type":"array"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		params, err := parameters(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(params)
		if err != nil {
			t.Fatalf("accepted schema %q does not marshal: %v", raw, err)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("schema %q became %s, not an object", raw, b)
		}
		if typ, ok := out["type"]; ok && string(typ) != `"object"` {
			t.Fatalf("schema %q became %s; want an object schema", raw, b)
		}
	})
}

// FuzzStream feeds arbitrary bytes to Complete as the server's event
// stream: it must return a response or an error, never panic or hang. The
// loopback server answers each request with its system message, so every
// input travels with its own request.
//
// The SDK is large, so run it with a short -fuzzminimizetime (5s): the
// default minimisation of each new input takes most of a run.
func FuzzStream(f *testing.F) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		_ = json.Unmarshal(body, &req)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, m := range req.Messages {
			if m.Role == "system" {
				_, _ = io.WriteString(w, m.Content)
			}
		}
	}))
	f.Cleanup(srv.Close)
	p := newProvider(f, srv.URL, func(c *Config) { c.MaxRetries = -1 })

	f.Add(data(chunkText) + data(chunkFinish) + data("[DONE]"))
	f.Add(data(chunkText) + data(`{"error":{"message":"overloaded"}}`))
	f.Add("data: {}\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		resp, err := p.Complete(ctx, llm.Request{System: stream, Messages: []llm.Message{userText("x")}}, func(string) {})
		if ctx.Err() != nil {
			t.Fatalf("hang: %v", err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "openai") {
				t.Fatalf("error %q does not name the provider", err)
			}
			return
		}
		if resp.Message.Role != llm.Assistant {
			t.Fatalf("role = %q", resp.Message.Role)
		}
		for _, c := range resp.Message.ToolCalls {
			if len(c.Input) == 0 {
				t.Fatalf("tool call %+v has no input", c)
			}
		}
	})
}
