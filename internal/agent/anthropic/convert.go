package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// params translates req into the SDK's request.
func (p *Provider) params(req llm.Request) (anthropic.MessageNewParams, error) {
	if req.MaxTokens < 0 {
		return anthropic.MessageNewParams{}, fmt.Errorf("anthropic: request MaxTokens is %d; want 0 (default) or more", req.MaxTokens)
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(p.model),
		MaxTokens: int64(p.maxTokens),
	}
	if req.Model != "" {
		params.Model = anthropic.Model(req.Model)
	}
	if req.MaxTokens > 0 {
		params.MaxTokens = int64(req.MaxTokens)
	}
	if req.System != "" {
		params.System = []anthropic.TextBlockParam{{Text: req.System}}
	}
	for i, m := range req.Messages {
		mp, err := message(m)
		if err != nil {
			return anthropic.MessageNewParams{}, fmt.Errorf("anthropic: message %d: %w", i, err)
		}
		params.Messages = append(params.Messages, mp)
	}
	for _, t := range req.Tools {
		tp, err := tool(t)
		if err != nil {
			return anthropic.MessageNewParams{}, fmt.Errorf("anthropic: tool %q: %w", t.Name, err)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	return params, nil
}

// message translates one turn. A user turn sends its tool results first, as
// the API requires, then its text.
func message(m llm.Message) (anthropic.MessageParam, error) {
	var blocks []anthropic.ContentBlockParamUnion
	switch m.Role {
	case llm.User:
		if len(m.ToolCalls) > 0 {
			return anthropic.MessageParam{}, fmt.Errorf("a user turn carries %d tool call(s)", len(m.ToolCalls))
		}
		for _, r := range m.Results {
			blocks = append(blocks, toolResult(r))
		}
		if m.Text != "" {
			blocks = append(blocks, anthropic.NewTextBlock(m.Text))
		}
	case llm.Assistant:
		if len(m.Results) > 0 {
			return anthropic.MessageParam{}, fmt.Errorf("an assistant turn carries %d tool result(s)", len(m.Results))
		}
		if m.Text != "" {
			blocks = append(blocks, anthropic.NewTextBlock(m.Text))
		}
		for _, c := range m.ToolCalls {
			blocks = append(blocks, anthropic.NewToolUseBlock(c.ID, toolUseInput(c.Input), c.Name))
		}
	default:
		return anthropic.MessageParam{}, fmt.Errorf("unknown role %q", m.Role)
	}
	if len(blocks) == 0 {
		return anthropic.MessageParam{}, fmt.Errorf("empty %s turn: no text, tool calls or results", m.Role)
	}
	return anthropic.MessageParam{Role: anthropic.MessageParamRole(m.Role), Content: blocks}, nil
}

// toolResult builds a tool_result block. An empty output sends no content,
// since the API refuses empty text blocks.
func toolResult(r llm.ToolResult) anthropic.ContentBlockParamUnion {
	b := anthropic.ToolResultBlockParam{ToolUseID: r.CallID, IsError: anthropic.Bool(r.IsError)}
	if r.Output != "" {
		b.Content = []anthropic.ToolResultBlockParamContentUnion{{OfText: &anthropic.TextBlockParam{Text: r.Output}}}
	}
	return anthropic.ContentBlockParamUnion{OfToolResult: &b}
}

// toolUseInput is the input of a tool call sent back in the history. The API
// wants an object; input the model garbled (already reported to it as a tool
// error) is sent as {}.
func toolUseInput(in json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(in)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(t)
}

// tool translates a tool declaration. Schema must be a JSON Schema object
// (type "object" or no type); "properties" and "required" go to their
// fields and every other keyword passes through verbatim.
func tool(t llm.Tool) (anthropic.ToolParam, error) {
	if t.Name == "" {
		return anthropic.ToolParam{}, fmt.Errorf("no name")
	}
	schema, err := inputSchema(t.Schema)
	if err != nil {
		return anthropic.ToolParam{}, err
	}
	tp := anthropic.ToolParam{Name: t.Name, InputSchema: schema}
	if t.Description != "" {
		tp.Description = anthropic.String(t.Description)
	}
	return tp, nil
}

func inputSchema(raw json.RawMessage) (anthropic.ToolInputSchemaParam, error) {
	var s anthropic.ToolInputSchemaParam
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return s, fmt.Errorf("schema is not a JSON object: %s", truncate(raw, 80))
	}
	for k, v := range fields {
		switch k {
		case "":
			return s, fmt.Errorf("schema has an empty key")
		case "type":
			var typ string
			if json.Unmarshal(v, &typ) != nil || typ != "object" {
				return s, fmt.Errorf(`schema type is %s; want "object"`, truncate(v, 40))
			}
		case "properties":
			s.Properties = v
		case "required":
			if err := json.Unmarshal(v, &s.Required); err != nil {
				return s, fmt.Errorf("schema required is not a list of names: %w", err)
			}
		default:
			if s.ExtraFields == nil {
				s.ExtraFields = map[string]any{}
			}
			s.ExtraFields[k] = v
		}
	}
	return s, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// response translates the accumulated message. inputs holds the raw input
// JSON each tool_use block streamed, by block index.
func response(msg anthropic.Message, inputs map[int64][]byte) llm.Response {
	out := llm.Message{Role: llm.Assistant}
	for i, b := range msg.Content {
		switch b.Type {
		case "text":
			out.Text += b.Text
		case "tool_use":
			in := json.RawMessage(inputs[int64(i)])
			if len(bytes.TrimSpace(in)) == 0 {
				// No deltas: the input came whole with the block.
				in = b.Input
			}
			if len(bytes.TrimSpace(in)) == 0 {
				in = json.RawMessage(`{}`)
			}
			out.ToolCalls = append(out.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Input: in})
		}
	}
	u := msg.Usage
	return llm.Response{
		Message: out,
		Usage: llm.Usage{
			InputTokens:  u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens,
			OutputTokens: u.OutputTokens,
		},
		Model:      msg.Model,
		StopReason: string(msg.StopReason),
	}
}
