package llmfake

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

func openAIClient(s *Server, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(s.URL()),
		option.WithAPIKey("sk-test"),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}),
	}, opts...)...)
}

func openAIParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("be brief"),
			openai.UserMessage("weather in Paris?"),
		},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("current weather"),
			Parameters: shared.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}},
			},
		})},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
}

// streamed is what a stream accumulated.
type streamed struct {
	acc      openai.ChatCompletionAccumulator
	finished []openai.FinishedChatCompletionToolCall
	content  string
}

func stream(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams) (streamed, error) {
	t.Helper()
	st := c.Chat.Completions.NewStreaming(context.Background(), p)
	defer func() { _ = st.Close() }()
	var out streamed
	for st.Next() {
		if !out.acc.AddChunk(st.Current()) {
			t.Fatalf("accumulator rejected chunk %s", st.Current().RawJSON())
		}
		if tc, ok := out.acc.JustFinishedToolCall(); ok {
			out.finished = append(out.finished, tc)
		}
		if s, ok := out.acc.JustFinishedContent(); ok {
			out.content = s
		}
	}
	return out, st.Err()
}

func TestOpenAIStreamText(t *testing.T) {
	t.Parallel()
	s := NewOpenAI(t, Turn{Text: "It is sunny in Paris.", StopReason: "end_turn", Usage: Usage{InputTokens: 12, OutputTokens: 7}})
	got, err := stream(t, openAIClient(s), openAIParams())
	if err != nil {
		t.Fatal(err)
	}
	ch := got.acc.Choices[0]
	if ch.Message.Content != "It is sunny in Paris." || got.content != ch.Message.Content {
		t.Errorf("content = %q, just finished %q", ch.Message.Content, got.content)
	}
	if ch.FinishReason != "stop" {
		t.Errorf("finish reason = %q", ch.FinishReason)
	}
	if got.acc.Usage.PromptTokens != 12 || got.acc.Usage.CompletionTokens != 7 || got.acc.Usage.TotalTokens != 19 {
		t.Errorf("usage = %+v", got.acc.Usage)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d", len(reqs))
	}
	r := reqs[0]
	if got := r.Header.Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("authorization = %q", got)
	}
	if r.Path != "/v1/chat/completions" || !r.Stream || !r.IncludeUsage || r.Model != "gpt-test" {
		t.Errorf("request = %s stream %v usage %v model %q", r.Path, r.Stream, r.IncludeUsage, r.Model)
	}
	if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[0].Text() != "be brief" || r.Messages[1].Text() != "weather in Paris?" {
		t.Errorf("messages = %+v", r.Messages)
	}
	if len(r.Tools) != 1 || r.Tools[0].Name != "get_weather" || r.Tools[0].Description != "current weather" || len(r.Tools[0].Schema) == 0 {
		t.Errorf("tools = %+v", r.Tools)
	}
}

// TestStreamToolCalls runs the same script through the OpenAI-shaped and
// the Ollama-shaped stream: both must yield two finished tool calls.
func TestStreamToolCalls(t *testing.T) {
	t.Parallel()
	for name, newServer := range map[string]func(testing.TB, ...Turn) *Server{
		"openai": NewOpenAI,
		"ollama": NewOllama,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t,
				Turn{
					Text: "Let me check.",
					ToolCalls: []ToolCall{
						{ID: "call_1", Name: "get_weather", Input: json.RawMessage(`{"city": "Paris", "unit": "celsius"}`)},
						{Name: "get_time", Input: json.RawMessage(`{"tz":"Europe/Paris"}`)},
					},
				},
				Turn{Text: "18°C and 14:00."},
			)
			c := openAIClient(s)
			p := openAIParams()
			got, err := stream(t, c, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.finished) != 2 {
				t.Fatalf("finished tool calls = %+v", got.finished)
			}
			first, second := got.finished[0], got.finished[1]
			if first.ID != "call_1" || first.Name != "get_weather" || first.Arguments != `{"city":"Paris","unit":"celsius"}` || first.Index != 0 {
				t.Errorf("first = %+v", first)
			}
			if second.ID == "" || second.Name != "get_time" || second.Arguments != `{"tz":"Europe/Paris"}` || second.Index != 1 {
				t.Errorf("second = %+v", second)
			}
			msg := got.acc.Choices[0].Message
			if got.acc.Choices[0].FinishReason != "tool_calls" || msg.Content != "Let me check." || len(msg.ToolCalls) != 2 {
				t.Errorf("choice = %+v", got.acc.Choices[0])
			}

			p.Messages = append(p.Messages, msg.ToParam(),
				openai.ToolMessage("18°C", first.ID),
				openai.ToolMessage("14:00", second.ID))
			final, err := c.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if final.Choices[0].Message.Content != "18°C and 14:00." || final.Choices[0].FinishReason != "stop" {
				t.Errorf("final = %+v", final.Choices[0])
			}
			msgs := s.Requests()[1].Messages
			if len(msgs) != 5 || msgs[2].Role != "assistant" || len(msgs[2].ToolCalls) == 0 {
				t.Fatalf("second request messages = %+v", msgs)
			}
			if msgs[3].Role != "tool" || msgs[3].ToolCallID != "call_1" || msgs[3].Text() != "18°C" || msgs[4].ToolCallID != second.ID {
				t.Errorf("tool messages = %+v %+v", msgs[3], msgs[4])
			}
		})
	}
}

func TestOpenAINonStreamingToolCall(t *testing.T) {
	t.Parallel()
	s := NewOpenAI(t, Turn{ToolCalls: []ToolCall{{Name: "ls"}}})
	c := openAIClient(s)
	res, err := c.Chat.Completions.New(context.Background(), openAIParams())
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("choice = %+v", ch)
	}
	if tc := ch.Message.ToolCalls[0]; tc.Function.Name != "ls" || tc.Function.Arguments != "{}" || tc.ID == "" {
		t.Errorf("tool call = %+v", tc)
	}
}

func TestOpenAIRateLimitThenSuccess(t *testing.T) {
	t.Parallel()
	s := NewOpenAI(t,
		Turn{Status: http.StatusTooManyRequests, RetryAfter: "0"},
		Turn{Text: "ok"},
	)
	got, err := stream(t, openAIClient(s), openAIParams())
	if err != nil {
		t.Fatal(err)
	}
	if got.acc.Choices[0].Message.Content != "ok" {
		t.Errorf("content = %q", got.acc.Choices[0].Message.Content)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("requests = %d, want 2 (one retry)", n)
	}
}

func TestOpenAIServerError(t *testing.T) {
	t.Parallel()
	s := NewOpenAI(t, Turn{Status: http.StatusInternalServerError, Text: "boom"})
	c := openAIClient(s, option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openAIParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusInternalServerError || apiErr.Message != "boom" || apiErr.Type != "server_error" {
		t.Errorf("error = %d %q %q", apiErr.StatusCode, apiErr.Message, apiErr.Type)
	}
}

// TestOllamaWireShape checks the raw chunks: a whole tool call in one delta
// beside "content":"".
func TestOllamaWireShape(t *testing.T) {
	t.Parallel()
	s := NewOllama(t, Turn{ToolCalls: []ToolCall{{ID: "call_1", Name: "ls", Input: json.RawMessage(`{"dir":"."}`)}}})
	res, err := http.Post(s.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"llama","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var lines []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			lines = append(lines, data)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[2] != "[DONE]" {
		t.Fatalf("data lines = %q", lines)
	}
	var chunk struct {
		Choices []struct {
			Delta struct {
				Role      string  `json:"role"`
				Content   *string `json:"content"`
				ToolCalls []struct {
					Index    int    `json:"index"`
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &chunk); err != nil {
		t.Fatal(err)
	}
	d := chunk.Choices[0].Delta
	if d.Role != "assistant" || d.Content == nil || *d.Content != "" {
		t.Errorf("delta role %q content %v, want assistant and \"\"", d.Role, d.Content)
	}
	if len(d.ToolCalls) != 1 || d.ToolCalls[0].ID != "call_1" || d.ToolCalls[0].Function.Name != "ls" || d.ToolCalls[0].Function.Arguments != `{"dir":"."}` {
		t.Errorf("tool calls = %+v", d.ToolCalls)
	}
	if !strings.Contains(lines[1], `"finish_reason":"tool_calls"`) {
		t.Errorf("last chunk = %s", lines[1])
	}
}
