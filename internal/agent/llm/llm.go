// Package llm is the model-neutral side of LLM agents: the conversation
// types, the Model interface every provider implements, and the agent loop
// that drives a model through skill calls to an answer.
//
// Providers (agent/anthropic, agent/openai) translate these types to their
// wire formats; nothing here knows a vendor.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Role says who speaks a message.
type Role string

// The roles of a conversation.
const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one turn of a conversation. A user turn carries Text or the
// results of the previous turn's tool calls (or both); an assistant turn
// carries Text, ToolCalls, or both.
type Message struct {
	Role      Role         `json:"role"`
	Text      string       `json:"text,omitempty"`
	ToolCalls []ToolCall   `json:"tool_calls,omitempty"`
	Results   []ToolResult `json:"tool_results,omitempty"`
}

// ToolCall is a model's request to run a tool.
type ToolCall struct {
	// ID is the provider's id of the call; its result must carry it back.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Input is the arguments as the model produced them: usually a JSON
	// object, but a model may send malformed JSON, which the loop reports
	// back as a tool error.
	Input json.RawMessage `json:"input,omitempty"`
}

// ToolResult answers a ToolCall.
type ToolResult struct {
	CallID  string `json:"call_id"`
	Output  string `json:"output"`
	IsError bool   `json:"is_error,omitempty"`
}

// Tool describes a tool the model may call.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Schema is the JSON Schema of the input object.
	Schema json.RawMessage `json:"schema"`
}

// Request is one call to a model.
type Request struct {
	// Model is the provider's model name; empty means the provider's
	// default.
	Model     string
	System    string
	Messages  []Message
	Tools     []Tool
	MaxTokens int
}

// Usage counts the tokens of one response.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Response is a model's answer to a Request.
type Response struct {
	Message Message
	Usage   Usage
	// Model is the model that answered (providers report the exact one).
	Model string
	// StopReason is the provider's reason for ending the turn
	// ("end_turn", "tool_use", "max_tokens", "stop", "tool_calls", ...).
	StopReason string
	// CostUSD is the price of the response by the provider's price list;
	// zero when the model's price is unknown.
	CostUSD float64
}

// Model is a chat model with tool calling.
type Model interface {
	// Complete sends req and returns the whole response. onText, when not
	// nil, receives the response's text as it streams. Providers retry
	// rate limits (429) and server errors (5xx) with backoff before
	// giving up; the error then says what the provider answered.
	Complete(ctx context.Context, req Request, onText func(string)) (Response, error)
	// Name identifies the provider ("anthropic", "openai", "ollama", ...).
	Name() string
}

// ProviderError is a provider's refusal or failure after its retries.
type ProviderError struct {
	Provider string
	// Status is the HTTP status, 0 when the provider was not reached.
	Status int
	// Retryable is true for rate limits and server errors that persisted
	// through the retries.
	Retryable bool
	Err       error
}

func (e *ProviderError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %v", e.Provider, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Provider, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// ErrNoProvider is returned for an agent whose provider is not configured.
var ErrNoProvider = errors.New("provider not configured")
