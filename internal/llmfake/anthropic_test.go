package llmfake

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

func anthropicClient(s *Server, opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{
		option.WithBaseURL(s.URL()),
		option.WithAPIKey("sk-ant-test"),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}),
	}, opts...)...)
}

func anthropicParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-test",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("weather in Paris?")),
		},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        "get_weather",
			Description: anthropic.String("current weather"),
			InputSchema: anthropic.ToolInputSchemaParam{
				Properties: map[string]any{"city": map[string]any{"type": "string"}},
				Required:   []string{"city"},
			},
		}}},
	}
}

// accumulate drains a stream into one message.
func accumulate(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams) (anthropic.Message, error) {
	t.Helper()
	stream := c.Messages.NewStreaming(context.Background(), p)
	defer func() { _ = stream.Close() }()
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	return msg, stream.Err()
}

func TestAnthropicStreamText(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, Turn{Text: "It is sunny in Paris.", Usage: Usage{InputTokens: 12, OutputTokens: 7}})
	msg, err := accumulate(t, anthropicClient(s), anthropicParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "It is sunny in Paris." {
		t.Fatalf("content = %+v", msg.Content)
	}
	if msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("stop reason = %q", msg.StopReason)
	}
	if msg.Usage.InputTokens != 12 || msg.Usage.OutputTokens != 7 {
		t.Errorf("usage = %d/%d", msg.Usage.InputTokens, msg.Usage.OutputTokens)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d", len(reqs))
	}
	r := reqs[0]
	if got := r.Header.Get("X-Api-Key"); got != "sk-ant-test" {
		t.Errorf("x-api-key = %q", got)
	}
	if r.Header.Get("Anthropic-Version") == "" {
		t.Error("anthropic-version header missing")
	}
	if !r.Stream || r.Model != "claude-test" || r.System != "be brief" {
		t.Errorf("request = stream %v model %q system %q", r.Stream, r.Model, r.System)
	}
	if len(r.Messages) != 1 || r.Messages[0].Role != "user" || r.Messages[0].Text() != "weather in Paris?" {
		t.Errorf("messages = %+v", r.Messages)
	}
	if len(r.Tools) != 1 || r.Tools[0].Name != "get_weather" || r.Tools[0].Description != "current weather" || len(r.Tools[0].Schema) == 0 {
		t.Errorf("tools = %+v", r.Tools)
	}
}

func TestAnthropicStreamToolUse(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t,
		Turn{
			Text: "Let me check.",
			ToolCalls: []ToolCall{
				{ID: "toolu_1", Name: "get_weather", Input: json.RawMessage(`{"city": "Paris", "unit": "celsius"}`)},
				{Name: "get_time", Input: json.RawMessage(`{"tz":"Europe/Paris"}`)},
			},
			Usage: Usage{InputTokens: 20, OutputTokens: 30},
		},
		Turn{Text: "18°C and 14:00."},
	)
	c := anthropicClient(s)
	p := anthropicParams()
	msg, err := accumulate(t, c, p)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse {
		t.Errorf("stop reason = %q", msg.StopReason)
	}
	if len(msg.Content) != 3 || msg.Content[0].Text != "Let me check." {
		t.Fatalf("content = %+v", msg.Content)
	}
	use := msg.Content[1].AsToolUse()
	if use.ID != "toolu_1" || use.Name != "get_weather" {
		t.Errorf("tool use = %+v", use)
	}
	var in struct{ City, Unit string }
	if err := json.Unmarshal(use.Input, &in); err != nil || in.City != "Paris" || in.Unit != "celsius" {
		t.Errorf("tool input = %s (%v)", use.Input, err)
	}
	second := msg.Content[2].AsToolUse()
	if second.ID == "" || second.Name != "get_time" || string(second.Input) != `{"tz":"Europe/Paris"}` {
		t.Errorf("second tool use = %+v input %s", second, second.Input)
	}

	// Send the results back; the fake records them.
	p.Messages = append(p.Messages, msg.ToParam(), anthropic.NewUserMessage(
		anthropic.NewToolResultBlock(use.ID, "18°C", false),
		anthropic.NewToolResultBlock(second.ID, "14:00", false),
	))
	final, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if final.Content[0].Text != "18°C and 14:00." || final.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("final = %+v", final)
	}

	reqs := s.Requests()
	if len(reqs) != 2 || reqs[1].Stream {
		t.Fatalf("requests = %d, second stream = %v", len(reqs), reqs[len(reqs)-1].Stream)
	}
	msgs := reqs[1].Messages
	if len(msgs) != 3 {
		t.Fatalf("second request messages = %d", len(msgs))
	}
	if bs := msgs[1].Blocks(); len(bs) != 3 || bs[1].Type != "tool_use" || bs[1].ID != "toolu_1" || bs[1].Name != "get_weather" {
		t.Errorf("assistant blocks = %+v", bs)
	}
	bs := msgs[2].Blocks()
	if len(bs) != 2 || bs[0].Type != "tool_result" || bs[0].ToolUseID != "toolu_1" || bs[1].ToolUseID != second.ID {
		t.Errorf("tool results = %+v", bs)
	}
	if s.Remaining() != 0 {
		t.Errorf("remaining = %d", s.Remaining())
	}
}

func TestAnthropicNonStreamingToolUse(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, Turn{ToolCalls: []ToolCall{{Name: "ls"}}, StopReason: "tool_calls"})
	c := anthropicClient(s)
	msg, err := c.Messages.New(context.Background(), anthropicParams())
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 {
		t.Fatalf("message = %+v", msg)
	}
	if u := msg.Content[0].AsToolUse(); u.Name != "ls" || string(u.Input) != "{}" || u.ID == "" {
		t.Errorf("tool use = %+v input %s", u, u.Input)
	}
}

func TestAnthropicRateLimitThenSuccess(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t,
		Turn{Status: http.StatusTooManyRequests, RetryAfter: "0", Text: "slow down"},
		Turn{Text: "ok"},
	)
	msg, err := accumulate(t, anthropicClient(s), anthropicParams())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "ok" {
		t.Errorf("content = %+v", msg.Content)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("requests = %d, want 2 (one retry)", n)
	}
}

func TestAnthropicServerError(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, Turn{Status: http.StatusInternalServerError})
	c := anthropicClient(s, option.WithMaxRetries(0))
	_, err := c.Messages.New(context.Background(), anthropicParams())
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *anthropic.Error", err)
	}
	if apiErr.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d", apiErr.StatusCode)
	}
	if typ := apiErr.Type(); typ != "api_error" {
		t.Errorf("error type = %q", typ)
	}
}

// TestAnthropicWireEvents checks the raw event sequence: the tool input
// arrives in several partial_json pieces that join to the scripted input.
func TestAnthropicWireEvents(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, Turn{Text: "hi there", ToolCalls: []ToolCall{{ID: "toolu_1", Name: "ls", Input: json.RawMessage(`{"dir":"/tmp"}`)}}})
	res, err := http.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type = %q", ct)
	}
	var events, partials []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, name)
		}
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, "input_json_delta") {
			var ev struct {
				Delta struct {
					PartialJSON string `json:"partial_json"`
				} `json:"delta"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			partials = append(partials, ev.Delta.PartialJSON)
		}
	}
	want := "message_start ping content_block_start content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop " +
		"message_delta message_stop"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if len(partials) < 3 || strings.Join(partials, "") != `{"dir":"/tmp"}` {
		t.Errorf("partials = %q", partials)
	}
}
