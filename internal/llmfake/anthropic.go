package llmfake

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// anthropicStopReason translates a scripted stop reason into Anthropic's
// vocabulary.
func anthropicStopReason(t Turn) string {
	switch t.StopReason {
	case "":
		if len(t.ToolCalls) > 0 {
			return "tool_use"
		}
		return "end_turn"
	case "stop":
		return "end_turn"
	case "tool_calls":
		return "tool_use"
	case "length":
		return "max_tokens"
	default:
		return t.StopReason
	}
}

func anthropicToolID(n, i int, c ToolCall) string {
	if c.ID != "" {
		return c.ID
	}
	return fmt.Sprintf("toolu_fake_%d_%d", n, i)
}

func anthropicUsage(u Usage) map[string]any {
	return map[string]any{
		"input_tokens":                u.InputTokens,
		"output_tokens":               u.OutputTokens,
		"cache_creation_input_tokens": 0,
		"cache_read_input_tokens":     0,
	}
}

// anthropicReply answers request number n with turn, as one message or as
// a Messages stream.
func (s *Server) anthropicReply(w http.ResponseWriter, req Request, n int, turn Turn) {
	id := fmt.Sprintf("msg_fake_%d", n)
	model := req.Model
	stop := anthropicStopReason(turn)

	if !req.Stream {
		content := []any{}
		if turn.Text != "" {
			content = append(content, map[string]any{"type": "text", "text": turn.Text})
		}
		for i, c := range turn.ToolCalls {
			content = append(content, map[string]any{
				"type":  "tool_use",
				"id":    anthropicToolID(n, i, c),
				"name":  c.Name,
				"input": json.RawMessage(toolInput(c)),
			})
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id":            id,
			"type":          "message",
			"role":          "assistant",
			"model":         model,
			"content":       content,
			"stop_reason":   stop,
			"stop_sequence": nil,
			"usage":         anthropicUsage(turn.Usage),
		})
		return
	}

	e := startSSE(w)
	startUsage := anthropicUsage(Usage{InputTokens: turn.Usage.InputTokens, OutputTokens: 1})
	e.event("message_start", map[string]any{
		"type": "message_start",
		"message": map[string]any{
			"id":            id,
			"type":          "message",
			"role":          "assistant",
			"model":         model,
			"content":       []any{},
			"stop_reason":   nil,
			"stop_sequence": nil,
			"usage":         startUsage,
		},
	})
	e.event("ping", map[string]any{"type": "ping"})

	index := 0
	if turn.Text != "" {
		e.event("content_block_start", map[string]any{
			"type":          "content_block_start",
			"index":         index,
			"content_block": map[string]any{"type": "text", "text": ""},
		})
		for _, p := range textPieces(turn.Text) {
			e.event("content_block_delta", map[string]any{
				"type":  "content_block_delta",
				"index": index,
				"delta": map[string]any{"type": "text_delta", "text": p},
			})
		}
		e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	for i, c := range turn.ToolCalls {
		e.event("content_block_start", map[string]any{
			"type":  "content_block_start",
			"index": index,
			"content_block": map[string]any{
				"type":  "tool_use",
				"id":    anthropicToolID(n, i, c),
				"name":  c.Name,
				"input": map[string]any{},
			},
		})
		// Anthropic opens every tool input with an empty partial.
		pieces := append([]string{""}, jsonPieces(toolInput(c), 3)...)
		for _, p := range pieces {
			e.event("content_block_delta", map[string]any{
				"type":  "content_block_delta",
				"index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": p},
			})
		}
		e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	e.event("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": turn.Usage.OutputTokens},
	})
	e.event("message_stop", map[string]any{"type": "message_stop"})
}
