package llmfake

import (
	"fmt"
	"net/http"
)

// created is the fixed creation time of every completion, so answers are
// reproducible.
const created = 1700000000

// openAIFinishReason translates a scripted stop reason into OpenAI's
// vocabulary.
func openAIFinishReason(t Turn) string {
	switch t.StopReason {
	case "":
		if len(t.ToolCalls) > 0 {
			return "tool_calls"
		}
		return "stop"
	case "end_turn", "stop_sequence":
		return "stop"
	case "tool_use":
		return "tool_calls"
	case "max_tokens":
		return "length"
	default:
		return t.StopReason
	}
}

func openAIToolID(n, i int, c ToolCall) string {
	if c.ID != "" {
		return c.ID
	}
	return fmt.Sprintf("call_fake_%d_%d", n, i)
}

func openAIUsage(u Usage) map[string]any {
	return map[string]any{
		"prompt_tokens":     u.InputTokens,
		"completion_tokens": u.OutputTokens,
		"total_tokens":      u.InputTokens + u.OutputTokens,
	}
}

// openAIReply answers request number n with turn, as one completion or as a
// stream of chunks.
func (s *Server) openAIReply(w http.ResponseWriter, req Request, n int, turn Turn) {
	id := fmt.Sprintf("chatcmpl-fake-%d", n)
	finish := openAIFinishReason(turn)

	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
		if turn.Text != "" {
			msg["content"] = turn.Text
		}
		if len(turn.ToolCalls) > 0 {
			calls := make([]any, 0, len(turn.ToolCalls))
			for i, c := range turn.ToolCalls {
				calls = append(calls, map[string]any{
					"id":       openAIToolID(n, i, c),
					"type":     "function",
					"function": map[string]any{"name": c.Name, "arguments": toolInput(c)},
				})
			}
			msg["tool_calls"] = calls
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id":      id,
			"object":  "chat.completion",
			"created": created,
			"model":   req.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       msg,
				"logprobs":      nil,
				"finish_reason": finish,
			}},
			"usage": openAIUsage(turn.Usage),
		})
		return
	}

	ollama := s.dialect == dialectOllama
	e := startSSE(w)
	chunk := func(delta map[string]any, finishReason any) {
		if ollama {
			delta["role"] = "assistant"
			if _, ok := delta["content"]; !ok {
				delta["content"] = ""
			}
		}
		c := map[string]any{
			"id":      id,
			"object":  "chat.completion.chunk",
			"created": created,
			"model":   req.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"delta":         delta,
				"logprobs":      nil,
				"finish_reason": finishReason,
			}},
		}
		if ollama {
			c["system_fingerprint"] = "fp_ollama"
		} else if req.IncludeUsage {
			c["usage"] = nil
		}
		e.event("", c)
	}

	if !ollama {
		chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)
	}
	for _, p := range textPieces(turn.Text) {
		chunk(map[string]any{"content": p}, nil)
	}
	for i, c := range turn.ToolCalls {
		head := map[string]any{
			"index": i,
			"id":    openAIToolID(n, i, c),
			"type":  "function",
		}
		if ollama {
			head["function"] = map[string]any{"name": c.Name, "arguments": toolInput(c)}
			chunk(map[string]any{"tool_calls": []any{head}}, nil)
			continue
		}
		head["function"] = map[string]any{"name": c.Name, "arguments": ""}
		chunk(map[string]any{"tool_calls": []any{head}}, nil)
		for _, p := range jsonPieces(toolInput(c), 3) {
			chunk(map[string]any{"tool_calls": []any{map[string]any{
				"index":    i,
				"function": map[string]any{"arguments": p},
			}}}, nil)
		}
	}
	chunk(map[string]any{}, finish)
	if req.IncludeUsage {
		u := map[string]any{
			"id":      id,
			"object":  "chat.completion.chunk",
			"created": created,
			"model":   req.Model,
			"choices": []any{},
			"usage":   openAIUsage(turn.Usage),
		}
		if ollama {
			u["system_fingerprint"] = "fp_ollama"
		}
		e.event("", u)
	}
	e.event("", "[DONE]")
}
