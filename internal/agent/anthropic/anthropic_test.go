package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
	"github.com/coderclaw/coderclaw/internal/llmfake"
)

// TestMain fails the package if a server, a handler or an SDK connection
// outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "sk-ant-test-secret"

// newProvider builds a Provider for baseURL whose connections close after
// each request, so no idle connection outlives the test.
func newProvider(t testing.TB, baseURL string, edit ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		APIKey:     testKey,
		BaseURL:    baseURL,
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func weatherTool() llm.Tool {
	return llm.Tool{
		Name:        "get_weather",
		Description: "current weather",
		Schema:      json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","maxLength":9007199254740993},"days":{"type":"integer","minimum":1}},"required":["city"],"additionalProperties":false}`),
	}
}

func userText(s string) llm.Message { return llm.Message{Role: llm.User, Text: s} }

// sameJSON reports whether a and b hold equal JSON values, numbers compared
// by their text.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	norm := func(x []byte) []byte {
		dec := json.NewDecoder(bytes.NewReader(x))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %s: %v", x, err)
		}
		out, _ := json.Marshal(v)
		return out
	}
	return bytes.Equal(norm(a), norm(b))
}

func TestCompleteText(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{
		Text:  "It is sunny in Paris today.",
		Usage: llmfake.Usage{InputTokens: 1_000_000, OutputTokens: 200_000},
	})
	p := newProvider(t, s.URL())
	var pieces []string
	resp, err := p.Complete(t.Context(), llm.Request{
		Model:    "claude-sonnet-4-5-20250929",
		System:   "be brief",
		Messages: []llm.Message{userText("weather in Paris?")},
	}, func(s string) { pieces = append(pieces, s) })
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message.Role != llm.Assistant || resp.Message.Text != "It is sunny in Paris today." {
		t.Errorf("message = %+v", resp.Message)
	}
	if len(pieces) < 2 || strings.Join(pieces, "") != resp.Message.Text {
		t.Errorf("onText got %q; want the text in several deltas", pieces)
	}
	if resp.Usage != (llm.Usage{InputTokens: 1_000_000, OutputTokens: 200_000}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
	if resp.Model != "claude-sonnet-4-5-20250929" || resp.StopReason != "end_turn" {
		t.Errorf("model, stop = %q, %q", resp.Model, resp.StopReason)
	}
	// Sonnet 4.5 lists at $3 in / $15 out per million: 3 + 0.2*15.
	if math.Abs(resp.CostUSD-6) > 1e-9 {
		t.Errorf("cost = %v; want 6", resp.CostUSD)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d", len(reqs))
	}
	r := reqs[0]
	if !r.Stream || r.Model != "claude-sonnet-4-5-20250929" || r.System != "be brief" {
		t.Errorf("request stream=%v model=%q system=%q", r.Stream, r.Model, r.System)
	}
	if got := r.Header.Get("X-Api-Key"); got != testKey {
		t.Errorf("x-api-key = %q", got)
	}
	var body struct {
		MaxTokens int `json:"max_tokens"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.MaxTokens != DefaultMaxTokens {
		t.Errorf("max_tokens = %d (%v); want %d", body.MaxTokens, err, DefaultMaxTokens)
	}
	if len(r.Messages) != 1 || r.Messages[0].Role != "user" || r.Messages[0].Text() != "weather in Paris?" {
		t.Errorf("messages = %+v", r.Messages)
	}
}

func TestCompleteDefaults(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{Text: "ok"})
	p := newProvider(t, s.URL(), func(c *Config) { c.Model = "claude-haiku-4-5"; c.MaxTokens = 100 })
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("hi")}, MaxTokens: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "claude-haiku-4-5" {
		t.Errorf("model = %q", resp.Model)
	}
	var body struct {
		MaxTokens int `json:"max_tokens"`
		Tools     any `json:"tools"`
		System    any `json:"system"`
	}
	_ = json.Unmarshal(s.Requests()[0].Body, &body)
	if body.MaxTokens != 100 || body.Tools != nil || body.System != nil {
		t.Errorf("body = %+v; want max_tokens 100, no tools, no system", body)
	}
}

func TestCompleteToolCalls(t *testing.T) {
	t.Parallel()
	calls := []llmfake.ToolCall{
		{ID: "toolu_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","days":3}`)},
		{ID: "toolu_2", Name: "get_weather", Input: json.RawMessage(`{"city":"Zürich, CH — \"old town\""}`)},
	}
	for n := 1; n <= 2; n++ {
		t.Run(fmt.Sprintf("%d calls", n), func(t *testing.T) {
			t.Parallel()
			s := llmfake.NewAnthropic(t, llmfake.Turn{
				Text:      "Let me check.",
				ToolCalls: calls[:n],
				Usage:     llmfake.Usage{InputTokens: 50, OutputTokens: 30},
			})
			p := newProvider(t, s.URL())
			resp, err := p.Complete(t.Context(), llm.Request{
				Messages: []llm.Message{userText("weather?")},
				Tools:    []llm.Tool{weatherTool()},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StopReason != "tool_use" || resp.Message.Text != "Let me check." {
				t.Errorf("stop=%q text=%q", resp.StopReason, resp.Message.Text)
			}
			if len(resp.Message.ToolCalls) != n {
				t.Fatalf("tool calls = %+v; want %d", resp.Message.ToolCalls, n)
			}
			for i, c := range resp.Message.ToolCalls {
				if c.ID != calls[i].ID || c.Name != calls[i].Name || !sameJSON(t, c.Input, calls[i].Input) {
					t.Errorf("call %d = %s %s %s; want %s %s %s", i, c.ID, c.Name, c.Input, calls[i].ID, calls[i].Name, calls[i].Input)
				}
			}
		})
	}
}

func TestCompleteToolCallWithoutInput(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{ToolCalls: []llmfake.ToolCall{{ID: "toolu_x", Name: "list"}}})
	p := newProvider(t, s.URL())
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("list")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Message.ToolCalls) != 1 || string(resp.Message.ToolCalls[0].Input) != "{}" {
		t.Errorf("tool calls = %+v; want one with input {}", resp.Message.ToolCalls)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{Text: "Paris is sunny; Rome failed."})
	p := newProvider(t, s.URL())
	history := []llm.Message{
		userText("weather in Paris and Rome?"),
		{Role: llm.Assistant, Text: "Checking both.", ToolCalls: []llm.ToolCall{
			{ID: "toolu_a", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)},
			{ID: "toolu_b", Name: "get_weather", Input: json.RawMessage(`{"city":`)}, // garbled by the model
		}},
		{Role: llm.User, Text: "also, be brief", Results: []llm.ToolResult{
			{CallID: "toolu_a", Output: "sunny, 24°C"},
			{CallID: "toolu_b", Output: "input is not valid JSON", IsError: true},
		}},
		{Role: llm.Assistant, ToolCalls: []llm.ToolCall{{ID: "toolu_c", Name: "get_weather", Input: json.RawMessage(`{"city":"Rome"}`)}}},
		{Role: llm.User, Results: []llm.ToolResult{{CallID: "toolu_c", Output: ""}}},
	}
	if _, err := p.Complete(t.Context(), llm.Request{System: "sys", Messages: history, Tools: []llm.Tool{weatherTool()}}, nil); err != nil {
		t.Fatal(err)
	}
	r := s.Requests()[0]
	if len(r.Messages) != len(history) {
		t.Fatalf("messages = %d; want %d", len(r.Messages), len(history))
	}
	roles := []string{"user", "assistant", "user", "assistant", "user"}
	for i, m := range r.Messages {
		if m.Role != roles[i] {
			t.Errorf("message %d role = %q; want %q", i, m.Role, roles[i])
		}
	}

	a := r.Messages[1].Blocks()
	if len(a) != 3 || a[0].Type != "text" || a[0].Text != "Checking both." ||
		a[1].Type != "tool_use" || a[1].ID != "toolu_a" || a[1].Name != "get_weather" || !sameJSON(t, a[1].Input, []byte(`{"city":"Paris"}`)) ||
		a[2].Type != "tool_use" || a[2].ID != "toolu_b" || !sameJSON(t, a[2].Input, []byte(`{}`)) {
		t.Errorf("assistant blocks = %+v", a)
	}

	u := r.Messages[2].Blocks()
	if len(u) != 3 {
		t.Fatalf("user blocks = %+v; want two results then text", u)
	}
	checkResult := func(b llmfake.Block, id, text string, isErr bool) {
		t.Helper()
		if b.Type != "tool_result" || b.ToolUseID != id || b.IsError != isErr {
			t.Errorf("block = %+v; want tool_result for %s is_error=%v", b, id, isErr)
		}
		got := llmfake.Message{Content: b.Content}.Text()
		if got != text {
			t.Errorf("result %s content = %q; want %q", id, got, text)
		}
	}
	checkResult(u[0], "toolu_a", "sunny, 24°C", false)
	checkResult(u[1], "toolu_b", "input is not valid JSON", true)
	if u[2].Type != "text" || u[2].Text != "also, be brief" {
		t.Errorf("user text block = %+v", u[2])
	}
	last := r.Messages[4].Blocks()
	if len(last) != 1 {
		t.Fatalf("last blocks = %+v", last)
	}
	checkResult(last[0], "toolu_c", "", false)
	if len(last[0].Content) != 0 {
		t.Errorf("empty result sent content %s; want none", last[0].Content)
	}

	if len(r.Tools) != 1 || r.Tools[0].Name != "get_weather" || r.Tools[0].Description != "current weather" ||
		!sameJSON(t, r.Tools[0].Schema, weatherTool().Schema) {
		t.Errorf("tools = %+v", r.Tools)
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	p := newProvider(t, "http://127.0.0.1:1")
	tests := []struct {
		name string
		req  llm.Request
		want string
	}{
		{"schema not object", llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`[1]`)}}}, `tool "t"`},
		{"schema type", llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`{"type":"string"}`)}}}, `"object"`},
		{"schema required", llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`{"required":"a"}`)}}}, "required"},
		{"tool name", llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{}}}, "no name"},
		{"empty turn", llm.Request{Messages: []llm.Message{{Role: llm.User}}}, "message 0"},
		{"bad role", llm.Request{Messages: []llm.Message{{Role: "system", Text: "x"}}}, `unknown role "system"`},
		{"max tokens", llm.Request{Messages: []llm.Message{userText("x")}, MaxTokens: -1}, "MaxTokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Complete(t.Context(), tt.req, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to mention %s", err, tt.want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := llmfake.Turn{Text: "done", Usage: llmfake.Usage{InputTokens: 3, OutputTokens: 1}}
	tests := []struct {
		name  string
		turns []llmfake.Turn
	}{
		{"429 then success", []llmfake.Turn{{Status: 429, RetryAfter: "0"}, ok}},
		{"500 then success", []llmfake.Turn{{Status: 500, RetryAfter: "0"}, ok}},
		{"529 twice then success", []llmfake.Turn{{Status: 529, RetryAfter: "0"}, {Status: 529, RetryAfter: "0"}, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmfake.NewAnthropic(t, tt.turns...)
			p := newProvider(t, s.URL())
			resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Message.Text != "done" {
				t.Errorf("text = %q", resp.Message.Text)
			}
			if n := len(s.Requests()); n != len(tt.turns) {
				t.Errorf("requests = %d; want %d", n, len(tt.turns))
			}
		})
	}
}

func TestRateLimitStorm(t *testing.T) {
	t.Parallel()
	storm := llmfake.Turn{Status: 429, RetryAfter: "0", Text: "slow down"}
	s := llmfake.NewAnthropic(t, storm, storm, storm)
	p := newProvider(t, s.URL(), func(c *Config) { c.MaxRetries = 2 })
	_, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want *llm.ProviderError", err, err)
	}
	if pe.Provider != "anthropic" || pe.Status != 429 || !pe.Retryable {
		t.Errorf("error = %+v", pe)
	}
	if !strings.Contains(err.Error(), "slow down") || !strings.Contains(err.Error(), "rate_limit_error") {
		t.Errorf("error text = %q; want the provider's type and message", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error leaks the API key: %q", err)
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("requests = %d; want 3 (1 + 2 retries)", n)
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{Status: 400, Text: "max_tokens too large"})
	p := newProvider(t, s.URL())
	_, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) || pe.Status != 400 || pe.Retryable {
		t.Fatalf("err = %#v; want ProviderError 400 not retryable", err)
	}
	if len(s.Requests()) != 1 {
		t.Errorf("requests = %d; want 1", len(s.Requests()))
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	p := newProvider(t, "http://"+addr, func(c *Config) { c.MaxRetries = -1 })
	_, err = p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want *llm.ProviderError", err, err)
	}
	if pe.Status != 0 || pe.Provider != "anthropic" {
		t.Errorf("error = %+v; want status 0", pe)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("err = %v; want it to wrap the *net.OpError", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	if err == nil || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") || !strings.Contains(err.Error(), "providers.anthropic.apiKey") {
		t.Errorf("New without key: %v; want an error naming ANTHROPIC_API_KEY and providers.anthropic.apiKey", err)
	}
	if _, err := New(Config{APIKey: "k", MaxTokens: -5}); err == nil || !strings.Contains(err.Error(), "MaxTokens") {
		t.Errorf("New with MaxTokens -5: %v", err)
	}
	p, err := New(Config{APIKey: "k"})
	if err != nil || p.Name() != "anthropic" {
		t.Errorf("New = %v, %v", p, err)
	}
}

func TestConfigRedactsKey(t *testing.T) {
	t.Parallel()
	cfg := Config{APIKey: testKey, Model: "m"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), buf.String()} {
		if strings.Contains(s, testKey) || !strings.Contains(s, "REDACTED") {
			t.Errorf("printed config %q; want the key redacted", s)
		}
	}
}

// sseServer serves a canned event stream and then waits for the client to
// go away when hang is set.
func sseServer(t *testing.T, events string, hang bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets the server notice the client
		// hanging up, which ends r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(events))
		w.(http.Flusher).Flush()
		if hang {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func event(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

const (
	evStart     = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`
	evTextStart = `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	evTextDelta = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}`
	evStop0     = `{"type":"content_block_stop","index":0}`
	evMsgDelta  = `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}}`
	evMsgStop   = `{"type":"message_stop"}`
)

func TestMalformedToolInputKept(t *testing.T) {
	t.Parallel()
	stream := event("message_start", evStart) +
		event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_bad","name":"get_weather","input":{}}}`) +
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`) +
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}`) +
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"is\", oops}"}}`) +
		event("content_block_stop", evStop0) +
		event("message_delta", evMsgDelta) +
		event("message_stop", evMsgStop)
	srv := sseServer(t, stream, false)
	p := newProvider(t, srv.URL)
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"city": "Paris", oops}`
	if len(resp.Message.ToolCalls) != 1 || string(resp.Message.ToolCalls[0].Input) != want {
		t.Fatalf("tool calls = %+v; want input %s kept verbatim", resp.Message.ToolCalls, want)
	}
	if resp.Usage != (llm.Usage{InputTokens: 5, OutputTokens: 9}) || resp.Model != "claude-test" {
		t.Errorf("usage = %+v, model = %q", resp.Usage, resp.Model)
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stream    string
		status    int
		retryable bool
	}{
		{"overloaded mid-stream", event("message_start", evStart) + event("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), 529, true},
		{"cut before message_stop", event("message_start", evStart) + event("content_block_start", evTextStart) + event("content_block_delta", evTextDelta), 0, true},
		{"block out of order", event("message_start", evStart) + event("content_block_start", `{"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}`), 0, false},
		{"not JSON", "event: message_start\ndata: {nope\n\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := sseServer(t, tt.stream, false)
			p := newProvider(t, srv.URL)
			_, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
			var pe *llm.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T); want *llm.ProviderError", err, err)
			}
			if pe.Status != tt.status || pe.Retryable != tt.retryable {
				t.Errorf("error = %+v; want status %d retryable %v", pe, tt.status, tt.retryable)
			}
		})
	}
}

func TestCancelMidStream(t *testing.T) {
	t.Parallel()
	srv := sseServer(t, event("message_start", evStart)+event("content_block_start", evTextStart)+event("content_block_delta", evTextDelta), true)
	p := newProvider(t, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got string
	_, err := p.Complete(ctx, llm.Request{Messages: []llm.Message{userText("go")}}, func(s string) {
		got += s
		cancel()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if got != "hello" {
		t.Errorf("onText got %q before the cancel", got)
	}
}

func TestCancelBeforeResponse(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-arrived
		cancel()
	}()
	_, err := p.Complete(ctx, llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	var pe *llm.ProviderError
	if errors.As(err, &pe) {
		t.Errorf("a cancelled call is not a provider failure: %v", err)
	}
}

func TestCost(t *testing.T) {
	t.Parallel()
	prices := DefaultPrices()
	prices["my-model"] = Price{InputPerMTok: 2, OutputPerMTok: 4}
	tests := []struct {
		reported, requested string
		in, out             int64
		want                float64
	}{
		{"claude-haiku-4-5", "", 1_000_000, 1_000_000, 6},
		{"claude-haiku-4-5-20251001", "", 2_000_000, 0, 2},
		{"claude-opus-4-1-2025-08-05", "", 0, 1_000_000, 75},
		{"", "claude-sonnet-4-6", 1_000_000, 0, 3},
		{"unknown-model", "also-unknown", 1_000_000, 1_000_000, 0},
		{"unknown-model", "my-model", 500_000, 250_000, 2},
		{"claude-opus-4-7", "", 1_000_000, 0, 0}, // not a date: no fallback to claude-opus-4
	}
	for _, tt := range tests {
		msg := messageWithUsage(tt.reported, tt.in, tt.out)
		if got := cost(prices, msg, tt.requested); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("cost(%q, %q, %d, %d) = %v; want %v", tt.reported, tt.requested, tt.in, tt.out, got, tt.want)
		}
	}
}

func TestConfigPricesOverride(t *testing.T) {
	t.Parallel()
	s := llmfake.NewAnthropic(t, llmfake.Turn{Text: "x", Usage: llmfake.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}})
	p := newProvider(t, s.URL(), func(c *Config) {
		c.Prices = map[string]Price{"claude-haiku-4-5": {InputPerMTok: 10, OutputPerMTok: 20}}
	})
	resp, err := p.Complete(t.Context(), llm.Request{Model: "claude-haiku-4-5", Messages: []llm.Message{userText("x")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.CostUSD != 30 {
		t.Errorf("cost = %v; want 30 from the configured price", resp.CostUSD)
	}
}

func BenchmarkComplete(b *testing.B) {
	turn := llmfake.Turn{
		Text:      "Let me check.",
		ToolCalls: []llmfake.ToolCall{{Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","days":3}`)}},
		Usage:     llmfake.Usage{InputTokens: 100, OutputTokens: 20},
	}
	turns := make([]llmfake.Turn, b.N)
	for i := range turns {
		turns[i] = turn
	}
	s := llmfake.NewAnthropic(b, turns...)
	p := newProvider(b, s.URL(), func(c *Config) {
		c.HTTPClient = &http.Client{Transport: &http.Transport{}}
		b.Cleanup(c.HTTPClient.CloseIdleConnections)
	})
	req := llm.Request{System: "sys", Messages: []llm.Message{userText("weather?")}, Tools: []llm.Tool{weatherTool()}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := p.Complete(context.Background(), req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Message.ToolCalls) != 1 {
			b.Fatalf("tool calls = %d", len(resp.Message.ToolCalls))
		}
	}
}

func messageWithUsage(model string, in, out int64) anthropic.Message {
	return anthropic.Message{Model: model, Usage: anthropic.Usage{InputTokens: in, OutputTokens: out}}
}
