package openai

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

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
	"github.com/coderclaw/coderclaw/internal/llmfake"
)

// TestMain fails the package if a server, a handler or an SDK connection
// outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "sk-test-secret"

// newProvider builds a Provider for baseURL whose connections close after
// each request, so no idle connection outlives the test.
func newProvider(t testing.TB, baseURL string, edit ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		APIKey:     testKey,
		BaseURL:    baseURL,
		Model:      "gpt-4o",
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
	for _, d := range []struct {
		name  string
		start func(testing.TB, ...llmfake.Turn) *llmfake.Server
	}{{"openai", llmfake.NewOpenAI}, {"ollama", llmfake.NewOllama}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			s := d.start(t, llmfake.Turn{
				Text:  "It is sunny in Paris today.",
				Usage: llmfake.Usage{InputTokens: 1_000_000, OutputTokens: 200_000},
			})
			p := newProvider(t, s.URL(), func(c *Config) { c.Name = d.name })
			var pieces []string
			resp, err := p.Complete(t.Context(), llm.Request{
				Model:    "gpt-4o-2024-08-06",
				System:   "be brief",
				Messages: []llm.Message{userText("weather in Paris?")},
			}, func(s string) { pieces = append(pieces, s) })
			if err != nil {
				t.Fatal(err)
			}
			if resp.Message.Role != llm.Assistant || resp.Message.Text != "It is sunny in Paris today." || len(resp.Message.ToolCalls) != 0 {
				t.Errorf("message = %+v", resp.Message)
			}
			if len(pieces) < 2 || strings.Join(pieces, "") != resp.Message.Text {
				t.Errorf("onText got %q; want the text in several deltas", pieces)
			}
			if resp.Usage != (llm.Usage{InputTokens: 1_000_000, OutputTokens: 200_000}) {
				t.Errorf("usage = %+v", resp.Usage)
			}
			if resp.Model != "gpt-4o-2024-08-06" || resp.StopReason != "stop" {
				t.Errorf("model, stop = %q, %q", resp.Model, resp.StopReason)
			}
			// gpt-4o lists at $2.50 in / $10 out per million: 2.5 + 0.2*10.
			if math.Abs(resp.CostUSD-4.5) > 1e-9 {
				t.Errorf("cost = %v; want 4.5", resp.CostUSD)
			}

			r := s.Requests()[0]
			if !r.Stream || !r.IncludeUsage || r.Model != "gpt-4o-2024-08-06" {
				t.Errorf("request stream=%v include_usage=%v model=%q", r.Stream, r.IncludeUsage, r.Model)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
				t.Errorf("authorization = %q", got)
			}
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[0].Text() != "be brief" ||
				r.Messages[1].Role != "user" || r.Messages[1].Text() != "weather in Paris?" {
				t.Errorf("messages = %+v", r.Messages)
			}
		})
	}
}

func TestCompleteToolCalls(t *testing.T) {
	t.Parallel()
	calls := []llmfake.ToolCall{
		{ID: "call_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","days":3}`)},
		{ID: "call_2", Name: "get_weather", Input: json.RawMessage(`{"city":"Zürich, CH — \"old town\""}`)},
	}
	for _, d := range []struct {
		name  string
		start func(testing.TB, ...llmfake.Turn) *llmfake.Server
	}{{"openai", llmfake.NewOpenAI}, {"ollama", llmfake.NewOllama}} {
		for n := 1; n <= 2; n++ {
			t.Run(fmt.Sprintf("%s/%d calls", d.name, n), func(t *testing.T) {
				t.Parallel()
				s := d.start(t, llmfake.Turn{ToolCalls: calls[:n], Usage: llmfake.Usage{InputTokens: 50, OutputTokens: 30}})
				p := newProvider(t, s.URL())
				var text string
				resp, err := p.Complete(t.Context(), llm.Request{
					Messages: []llm.Message{userText("weather?")},
					Tools:    []llm.Tool{weatherTool()},
				}, func(s string) { text += s })
				if err != nil {
					t.Fatal(err)
				}
				if resp.StopReason != "tool_calls" || resp.Message.Text != "" || text != "" {
					t.Errorf("stop=%q text=%q streamed=%q", resp.StopReason, resp.Message.Text, text)
				}
				if resp.Usage != (llm.Usage{InputTokens: 50, OutputTokens: 30}) {
					t.Errorf("usage = %+v", resp.Usage)
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
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := llmfake.NewOpenAI(t, llmfake.Turn{Text: "Paris is sunny; Rome failed."})
	p := newProvider(t, s.URL())
	history := []llm.Message{
		userText("weather in Paris and Rome?"),
		{Role: llm.Assistant, Text: "Checking both.", ToolCalls: []llm.ToolCall{
			{ID: "call_a", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)},
			{ID: "call_b", Name: "get_weather", Input: json.RawMessage(`{"city":`)}, // garbled by the model
		}},
		{Role: llm.User, Text: "also, be brief", Results: []llm.ToolResult{
			{CallID: "call_a", Output: "sunny, 24°C"},
			{CallID: "call_b", Output: "input is not valid JSON", IsError: true},
		}},
		{Role: llm.Assistant, ToolCalls: []llm.ToolCall{{ID: "call_c", Name: "get_weather"}}},
		{Role: llm.User, Results: []llm.ToolResult{{CallID: "call_c", Output: ""}}},
	}
	if _, err := p.Complete(t.Context(), llm.Request{System: "sys", Messages: history, Tools: []llm.Tool{weatherTool()}}, nil); err != nil {
		t.Fatal(err)
	}
	r := s.Requests()[0]
	roles := []string{"system", "user", "assistant", "tool", "tool", "user", "assistant", "tool"}
	if len(r.Messages) != len(roles) {
		t.Fatalf("messages = %+v; want roles %v", r.Messages, roles)
	}
	for i, m := range r.Messages {
		if m.Role != roles[i] {
			t.Errorf("message %d role = %q; want %q", i, m.Role, roles[i])
		}
	}

	if got := r.Messages[2].Text(); got != "Checking both." {
		t.Errorf("assistant content = %q", got)
	}
	var tcs []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(r.Messages[2].ToolCalls, &tcs); err != nil {
		t.Fatalf("tool_calls %s: %v", r.Messages[2].ToolCalls, err)
	}
	if len(tcs) != 2 || tcs[0].ID != "call_a" || tcs[0].Type != "function" || tcs[0].Function.Name != "get_weather" ||
		tcs[0].Function.Arguments != `{"city":"Paris"}` || tcs[1].ID != "call_b" || tcs[1].Function.Arguments != `{"city":` {
		t.Errorf("tool_calls = %+v; want both calls, arguments verbatim", tcs)
	}

	checkTool := func(m llmfake.Message, id, content string) {
		t.Helper()
		if m.ToolCallID != id || m.Text() != content {
			t.Errorf("tool message = %s %q; want %s %q", m.ToolCallID, m.Text(), id, content)
		}
	}
	checkTool(r.Messages[3], "call_a", "sunny, 24°C")
	checkTool(r.Messages[4], "call_b", ErrorPrefix+"input is not valid JSON")
	if got := r.Messages[5].Text(); got != "also, be brief" {
		t.Errorf("user text = %q", got)
	}
	if err := json.Unmarshal(r.Messages[6].ToolCalls, &tcs); err != nil || len(tcs) != 1 || tcs[0].Function.Arguments != "{}" {
		t.Errorf("call without input sent as %s; want arguments {}", r.Messages[6].ToolCalls)
	}
	if c := string(r.Messages[6].Content); c != "" && c != "null" {
		t.Errorf("assistant turn without text sent content %s", c)
	}
	checkTool(r.Messages[7], "call_c", "")

	if len(r.Tools) != 1 || r.Tools[0].Name != "get_weather" || r.Tools[0].Description != "current weather" ||
		!sameJSON(t, r.Tools[0].Schema, weatherTool().Schema) {
		t.Errorf("tools = %+v", r.Tools)
	}
}

func TestMaxTokensField(t *testing.T) {
	t.Parallel()
	s := llmfake.NewOllama(t, llmfake.Turn{Text: "a"}, llmfake.Turn{Text: "b"})
	p := newProvider(t, s.URL(), func(c *Config) { c.MaxTokens = 100 })
	for _, n := range []int{0, 7} {
		if _, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("x")}, MaxTokens: n}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []int{100, 7} {
		var body map[string]json.RawMessage
		_ = json.Unmarshal(s.Requests()[i].Body, &body)
		if string(body["max_tokens"]) != fmt.Sprint(want) || body["max_completion_tokens"] != nil {
			t.Errorf("request %d: max_tokens=%s max_completion_tokens=%s; want max_tokens %d", i, body["max_tokens"], body["max_completion_tokens"], want)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	p := newProvider(t, "http://127.0.0.1:1", func(c *Config) { c.Name = "vllm" })
	noModel := newProvider(t, "http://127.0.0.1:1", func(c *Config) { c.Model = "" })
	tests := []struct {
		name string
		p    *Provider
		req  llm.Request
		want string
	}{
		{"schema not object", p, llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`[1]`)}}}, `vllm: tool "t"`},
		{"schema trailing", p, llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`{} {}`)}}}, "not a JSON object"},
		{"schema type", p, llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{Name: "t", Schema: json.RawMessage(`{"type":"array"}`)}}}, `"object"`},
		{"tool name", p, llm.Request{Messages: []llm.Message{userText("x")}, Tools: []llm.Tool{{}}}, "no name"},
		{"empty turn", p, llm.Request{Messages: []llm.Message{{Role: llm.Assistant}}}, "message 0"},
		{"bad role", p, llm.Request{Messages: []llm.Message{{Role: "system", Text: "x"}}}, `unknown role "system"`},
		{"max tokens", p, llm.Request{Messages: []llm.Message{userText("x")}, MaxTokens: -1}, "MaxTokens"},
		{"no model", noModel, llm.Request{Messages: []llm.Message{userText("x")}}, "no model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Complete(t.Context(), tt.req, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to mention %s", err, tt.want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := llmfake.Turn{Text: "done"}
	tests := []struct {
		name  string
		turns []llmfake.Turn
	}{
		{"429 then success", []llmfake.Turn{{Status: 429, RetryAfter: "0"}, ok}},
		{"500 then success", []llmfake.Turn{{Status: 500, RetryAfter: "0"}, ok}},
		{"503 twice then success", []llmfake.Turn{{Status: 503, RetryAfter: "0"}, {Status: 503, RetryAfter: "0"}, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmfake.NewOpenAI(t, tt.turns...)
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
	s := llmfake.NewOpenAI(t, storm, storm, storm)
	p := newProvider(t, s.URL(), func(c *Config) { c.MaxRetries = 2 })
	_, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want *llm.ProviderError", err, err)
	}
	if pe.Provider != "openai" || pe.Status != 429 || !pe.Retryable {
		t.Errorf("error = %+v", pe)
	}
	if !strings.Contains(err.Error(), "slow down") || !strings.Contains(err.Error(), "rate_limit_exceeded") {
		t.Errorf("error text = %q; want the server's code and message", err)
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
	s := llmfake.NewOpenAI(t, llmfake.Turn{Status: 401, Text: "bad key"})
	p := newProvider(t, s.URL())
	_, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) || pe.Status != 401 || pe.Retryable {
		t.Fatalf("err = %#v; want ProviderError 401 not retryable", err)
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
	p := newProvider(t, "http://"+addr, func(c *Config) { c.Name = "ollama"; c.MaxRetries = -1 })
	_, err = p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want *llm.ProviderError", err, err)
	}
	if pe.Status != 0 || pe.Provider != "ollama" {
		t.Errorf("error = %+v; want ollama, status 0", pe)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("err = %v; want it to wrap the *net.OpError", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") || !strings.Contains(err.Error(), "providers.openai.apiKey") {
		t.Errorf("New without key: %v; want an error naming OPENAI_API_KEY and providers.openai.apiKey", err)
	}
	if _, err := New(Config{BaseURL: "https://api.openai.com/v1"}); err == nil {
		t.Errorf("New for api.openai.com without key succeeded")
	}
	for _, bad := range []string{"127.0.0.1:11434", "ftp://host/v1", "http://", "http://[::1"} {
		if _, err := New(Config{Name: "ollama", BaseURL: bad}); err == nil || !strings.Contains(err.Error(), "ollama: Config.BaseURL") {
			t.Errorf("New with BaseURL %q: %v; want an error naming the field", bad, err)
		}
	}
	if _, err := New(Config{APIKey: "k", MaxTokens: -1}); err == nil || !strings.Contains(err.Error(), "MaxTokens") {
		t.Errorf("New with MaxTokens -1: %v", err)
	}
	p, err := New(Config{Name: "ollama", BaseURL: "http://127.0.0.1:11434"})
	if err != nil || p.Name() != "ollama" {
		t.Fatalf("New for Ollama without key = %v, %v", p, err)
	}
	p, err = New(Config{APIKey: "k"})
	if err != nil || p.Name() != "openai" || p.model != DefaultModel || !p.official {
		t.Errorf("New with defaults = %+v, %v", p, err)
	}
}

func TestBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		official bool
	}{
		{"", "https://api.openai.com/v1/", true},
		{"https://api.openai.com/v1", "https://api.openai.com/v1/", true},
		{"http://127.0.0.1:11434", "http://127.0.0.1:11434/v1/", false},
		{"http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1/", false},
		{"http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1/", false},
		{"https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1/", false},
	}
	for _, tt := range tests {
		got, official, err := baseURL(tt.in)
		if err != nil || got != tt.want || official != tt.official {
			t.Errorf("baseURL(%q) = %q, %v, %v; want %q, %v", tt.in, got, official, err, tt.want, tt.official)
		}
	}
}

// TestOllamaRootURL drives an Ollama-shaped fake through a base URL without
// /v1, as users paste Ollama's address, and with no API key.
func TestOllamaRootURL(t *testing.T) {
	t.Parallel()
	s := llmfake.NewOllama(t, llmfake.Turn{Text: "hi", ToolCalls: []llmfake.ToolCall{{ID: "call_o", Name: "ls", Input: json.RawMessage(`{"dir":"."}`)}}})
	root := strings.TrimSuffix(s.URL(), "/v1")
	p := newProvider(t, root, func(c *Config) { c.Name = "ollama"; c.APIKey = ""; c.Model = "llama3.2:3b" })
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("ls")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message.Text != "hi" || len(resp.Message.ToolCalls) != 1 || resp.Message.ToolCalls[0].ID != "call_o" || resp.CostUSD != 0 {
		t.Errorf("response = %+v", resp)
	}
	r := s.Requests()[0]
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("authorization = %q; want none without a key", got)
	}
	if r.Model != "llama3.2:3b" {
		t.Errorf("model = %q", r.Model)
	}
}

// TestEnvironmentIgnored checks an OpenAI key in the environment never
// reaches another server. Not parallel: it sets the environment.
func TestEnvironmentIgnored(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	s := llmfake.NewOllama(t, llmfake.Turn{Text: "ok"})
	p := newProvider(t, s.URL(), func(c *Config) { c.APIKey = "" })
	if _, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("x")}}, nil); err != nil {
		t.Fatal(err)
	}
	h := s.Requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("OpenAI-Organization") != "" {
		t.Errorf("headers carry the environment: %v", h)
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

// sseServer serves a canned event stream and then, when hang is set, waits
// for the client to go away.
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

func data(s string) string { return "data: " + s + "\n\n" }

const (
	chunkText   = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}`
	chunkFinish = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`
)

func TestMalformedArgumentsKept(t *testing.T) {
	t.Parallel()
	stream := data(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_bad","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Par"}}]},"finish_reason":null}]}`) +
		data(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is\", oops}"}}]},"finish_reason":null}]}`) +
		data(chunkFinish) + data("[DONE]")
	srv := sseServer(t, stream, false)
	p := newProvider(t, srv.URL+"/v1")
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("go")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"city": "Paris", oops}`
	if len(resp.Message.ToolCalls) != 1 || string(resp.Message.ToolCalls[0].Input) != want || resp.Message.ToolCalls[0].ID != "call_bad" {
		t.Fatalf("tool calls = %+v; want input %s kept verbatim", resp.Message.ToolCalls, want)
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stream string
	}{
		{"error mid-stream", data(chunkText) + data(`{"error":{"message":"overloaded","type":"server_error"}}`)},
		{"cut before finish", data(chunkText)},
		{"not JSON", data(`{nope`)},
		{"no choices", data("[DONE]")},
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
			if pe.Status != 0 || !pe.Retryable {
				t.Errorf("error = %+v; want status 0, retryable", pe)
			}
		})
	}
}

func TestCancelMidStream(t *testing.T) {
	t.Parallel()
	srv := sseServer(t, data(chunkText), true)
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
	prices["llama3.2:3b"] = Price{InputPerMTok: 0.1, OutputPerMTok: 0.2}
	tests := []struct {
		reported, requested string
		in, out             int64
		want                float64
	}{
		{"gpt-4.1", "", 1_000_000, 1_000_000, 10},
		{"gpt-4o-2024-08-06", "", 2_000_000, 0, 5},
		{"", "gpt-5-mini", 0, 1_000_000, 2},
		{"llama3.2:3b", "", 1_000_000, 1_000_000, 0.3},
		{"qwen3:8b", "qwen3:8b", 1_000_000, 1_000_000, 0},
	}
	for _, tt := range tests {
		resp := llm.Response{Model: tt.reported, Usage: llm.Usage{InputTokens: tt.in, OutputTokens: tt.out}}
		if got := cost(prices, resp, tt.requested); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("cost(%q, %q, %d, %d) = %v; want %v", tt.reported, tt.requested, tt.in, tt.out, got, tt.want)
		}
	}
}

func TestConfigPricesOverride(t *testing.T) {
	t.Parallel()
	s := llmfake.NewOllama(t, llmfake.Turn{Text: "x", Usage: llmfake.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}})
	p := newProvider(t, s.URL(), func(c *Config) {
		c.Model = "llama3.2:3b"
		c.Prices = map[string]Price{"llama3.2:3b": {InputPerMTok: 1, OutputPerMTok: 2}}
	})
	resp, err := p.Complete(t.Context(), llm.Request{Messages: []llm.Message{userText("x")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.CostUSD != 3 {
		t.Errorf("cost = %v; want 3 from the configured price", resp.CostUSD)
	}
}

func BenchmarkComplete(b *testing.B) {
	for _, d := range []struct {
		name  string
		start func(testing.TB, ...llmfake.Turn) *llmfake.Server
	}{{"openai", llmfake.NewOpenAI}, {"ollama", llmfake.NewOllama}} {
		b.Run(d.name, func(b *testing.B) {
			turn := llmfake.Turn{
				Text:      "Let me check.",
				ToolCalls: []llmfake.ToolCall{{Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","days":3}`)}},
				Usage:     llmfake.Usage{InputTokens: 100, OutputTokens: 20},
			}
			turns := make([]llmfake.Turn, b.N)
			for i := range turns {
				turns[i] = turn
			}
			s := d.start(b, turns...)
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
		})
	}
}

func TestMaxCompletionTokensForOpenAI(t *testing.T) {
	t.Parallel()
	p, err := New(Config{APIKey: "k", MaxTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.params(llm.Request{Messages: []llm.Message{userText("x")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]json.RawMessage
	_ = json.Unmarshal(b, &body)
	if string(body["max_completion_tokens"]) != "64" || body["max_tokens"] != nil || string(body["model"]) != `"`+DefaultModel+`"` {
		t.Errorf("body = %s; want max_completion_tokens 64 and the default model", b)
	}
}
