package openai

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// ErrorPrefix starts the content of a tool message whose result is an
// error: Chat Completions has no is_error flag, so the model is told in
// words.
const ErrorPrefix = "ERROR: "

// params translates req into the SDK's request.
func (p *Provider) params(req llm.Request) (openai.ChatCompletionNewParams, error) {
	model := req.Model
	if model == "" {
		model = p.model
	}
	if model == "" {
		return openai.ChatCompletionNewParams{}, fmt.Errorf("%s: no model: set the provider's model or the request's", p.name)
	}
	if req.MaxTokens < 0 {
		return openai.ChatCompletionNewParams{}, fmt.Errorf("%s: request MaxTokens is %d; want 0 (default) or more", p.name, req.MaxTokens)
	}
	params := openai.ChatCompletionNewParams{
		Model:         model,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if limit := int64(cmp.Or(req.MaxTokens, p.maxTokens)); limit > 0 {
		if p.official {
			params.MaxCompletionTokens = openai.Int(limit)
		} else {
			params.MaxTokens = openai.Int(limit)
		}
	}
	if req.System != "" {
		params.Messages = append(params.Messages, openai.SystemMessage(req.System))
	}
	for i, m := range req.Messages {
		ms, err := messages(m)
		if err != nil {
			return openai.ChatCompletionNewParams{}, fmt.Errorf("%s: message %d: %w", p.name, i, err)
		}
		params.Messages = append(params.Messages, ms...)
	}
	for _, t := range req.Tools {
		tp, err := tool(t)
		if err != nil {
			return openai.ChatCompletionNewParams{}, fmt.Errorf("%s: tool %q: %w", p.name, t.Name, err)
		}
		params.Tools = append(params.Tools, tp)
	}
	return params, nil
}

// messages translates one turn. A user turn becomes one "tool" message per
// result, which must follow the assistant's tool calls directly, then a
// user message with its text.
func messages(m llm.Message) ([]openai.ChatCompletionMessageParamUnion, error) {
	var out []openai.ChatCompletionMessageParamUnion
	switch m.Role {
	case llm.User:
		if len(m.ToolCalls) > 0 {
			return nil, fmt.Errorf("a user turn carries %d tool call(s)", len(m.ToolCalls))
		}
		for _, r := range m.Results {
			content := r.Output
			if r.IsError {
				content = ErrorPrefix + content
			}
			out = append(out, openai.ToolMessage(content, r.CallID))
		}
		if m.Text != "" {
			out = append(out, openai.UserMessage(m.Text))
		}
	case llm.Assistant:
		if len(m.Results) > 0 {
			return nil, fmt.Errorf("an assistant turn carries %d tool result(s)", len(m.Results))
		}
		var a openai.ChatCompletionAssistantMessageParam
		if m.Text != "" {
			a.Content.OfString = openai.String(m.Text)
		}
		for _, c := range m.ToolCalls {
			args := string(bytes.TrimSpace(c.Input))
			if args == "" {
				args = "{}"
			}
			a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID:       c.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: args},
				},
			})
		}
		if m.Text != "" || len(a.ToolCalls) > 0 {
			out = append(out, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		}
	default:
		return nil, fmt.Errorf("unknown role %q", m.Role)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty %s turn: no text, tool calls or results", m.Role)
	}
	return out, nil
}

// tool translates a tool declaration into a function tool whose parameters
// are the schema, passed through. An empty schema means an object with no
// properties.
func tool(t llm.Tool) (openai.ChatCompletionToolUnionParam, error) {
	if t.Name == "" {
		return openai.ChatCompletionToolUnionParam{}, fmt.Errorf("no name")
	}
	params, err := parameters(t.Schema)
	if err != nil {
		return openai.ChatCompletionToolUnionParam{}, err
	}
	fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: params}
	if t.Description != "" {
		fn.Description = openai.String(t.Description)
	}
	return openai.ChatCompletionFunctionTool(fn), nil
}

func parameters(raw json.RawMessage) (shared.FunctionParameters, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return shared.FunctionParameters{"type": "object", "properties": map[string]any{}}, nil
	}
	// Values stay raw JSON, so the schema reaches the server as written:
	// numbers exact, nested keys in their order.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("schema is not a JSON object: %s", truncate(raw, 80))
	}
	params := make(shared.FunctionParameters, len(fields))
	for k, v := range fields {
		if k == "type" {
			var typ string
			if json.Unmarshal(v, &typ) != nil || typ != "object" {
				return nil, fmt.Errorf(`schema type is %s; want "object"`, truncate(v, 40))
			}
		}
		params[k] = v
	}
	return params, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// response translates the accumulated completion's first choice.
func response(acc *openai.ChatCompletionAccumulator) llm.Response {
	choice := acc.Choices[0]
	out := llm.Message{Role: llm.Assistant, Text: choice.Message.Content}
	for _, c := range choice.Message.ToolCalls {
		in := json.RawMessage(c.Function.Arguments)
		if len(bytes.TrimSpace(in)) == 0 {
			in = json.RawMessage(`{}`)
		}
		out.ToolCalls = append(out.ToolCalls, llm.ToolCall{ID: c.ID, Name: c.Function.Name, Input: in})
	}
	return llm.Response{
		Message: out,
		Usage: llm.Usage{
			InputTokens:  acc.Usage.PromptTokens,
			OutputTokens: acc.Usage.CompletionTokens,
		},
		Model:      acc.Model,
		StopReason: choice.FinishReason,
	}
}
