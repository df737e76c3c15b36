// Package llmfake serves fake LLM providers on 127.0.0.1 that speak the real
// wire formats, so agent loops and SDK clients are tested without a network
// or a real provider.
//
// A fake is driven by a script of [Turn] values: each request the server
// receives consumes the next turn, in order. A turn is either a reply (text,
// tool calls, a stop reason, token usage) or, with a non-200 Status, an
// injected error in the provider's error format with an optional
// retry-after header. A request beyond the script fails the test with
// t.Errorf and is answered with HTTP 500.
//
// [NewAnthropic] serves the Anthropic Messages API (POST /v1/messages);
// [NewOpenAI] and [NewOllama] serve the OpenAI Chat Completions API
// (POST /v1/chat/completions), the latter with the chunk shape Ollama's
// OpenAI-compatible endpoint streams. Each answers with one JSON document or,
// when the request says "stream": true, with server-sent events, and records
// every request ([Server.Requests]) so tests can check the messages, tools
// and headers the client sent.
//
// A [Server] is safe for concurrent use. It is closed by t.Cleanup, which
// waits for requests in flight, so no goroutine outlives the test. The zero
// Server is not usable; build one with a constructor.
package llmfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Turn is one scripted answer of a fake provider.
type Turn struct {
	// Text is the assistant's text. For an error turn it is the error
	// message; empty means a generic one.
	Text string
	// ToolCalls are the tool calls the assistant makes, after Text.
	ToolCalls []ToolCall
	// StopReason is the reason the turn ended. Empty means the natural one:
	// "end_turn"/"stop" without tool calls, "tool_use"/"tool_calls" with
	// them. Either provider's vocabulary is accepted and translated, so one
	// script drives both fakes ("end_turn" = "stop", "tool_use" =
	// "tool_calls", "max_tokens" = "length"); other values pass verbatim.
	StopReason string
	// Status, when neither 0 nor 200, makes the turn an error answered with
	// that HTTP status in the provider's error format (429, 500, 529…).
	Status int
	// RetryAfter, when set, is sent as the retry-after header of an error
	// turn ("0" makes the official SDKs retry at once).
	RetryAfter string
	// Usage is the token usage reported for the turn.
	Usage Usage
}

// ToolCall is one tool call in a [Turn].
type ToolCall struct {
	// ID is the call's id; empty means a generated one ("toolu_fake_…" or
	// "call_fake_…").
	ID   string
	Name string
	// Input is the tool's JSON arguments object; empty means {}.
	Input json.RawMessage
}

// Usage is the token usage of a [Turn].
type Usage struct {
	InputTokens, OutputTokens int
}

// Request is one request a fake received, decoded enough to check what the
// client sent. Fields a provider's format lacks stay zero.
type Request struct {
	Method string
	Path   string
	// Header holds the request headers (x-api-key, Authorization,
	// anthropic-version…).
	Header http.Header
	// Body is the raw request body.
	Body json.RawMessage

	Model  string
	Stream bool
	// IncludeUsage reports OpenAI's stream_options.include_usage.
	IncludeUsage bool
	// System is Anthropic's top-level system prompt, its text blocks joined.
	// An OpenAI system prompt is a message with role "system".
	System   string
	Messages []Message
	Tools    []Tool
}

// Message is one message of a [Request], in either provider's shape.
type Message struct {
	Role string
	// Content is the raw content: a JSON string or an array of blocks.
	Content json.RawMessage
	// ToolCalls is the raw tool_calls array of an OpenAI assistant message.
	ToolCalls json.RawMessage
	// ToolCallID is set on an OpenAI message with role "tool".
	ToolCallID string
}

// Block is one content block of a [Message], as sent by the client.
type Block struct {
	// Type is "text", "tool_use", "tool_result", "image"…
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// ID, Name and Input are set on a tool_use block.
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// ToolUseID and Content are set on a tool_result block.
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// Blocks returns the message's content as blocks: a string content is one
// text block, null content none.
func (m Message) Blocks() []Block {
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 || string(c) == "null" {
		return nil
	}
	if c[0] == '"' {
		var s string
		if json.Unmarshal(c, &s) != nil {
			return nil
		}
		return []Block{{Type: "text", Text: s}}
	}
	var bs []Block
	if json.Unmarshal(c, &bs) != nil {
		return nil
	}
	return bs
}

// Text returns the message's text blocks joined.
func (m Message) Text() string {
	var sb strings.Builder
	for _, b := range m.Blocks() {
		if b.Type == "text" {
			sb.WriteString(b.Text)
		}
	}
	return sb.String()
}

// Tool is one tool the client declared, in either provider's shape.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON schema of the input (Anthropic input_schema, OpenAI
	// function.parameters).
	Schema json.RawMessage
}

// dialect is the wire format a Server speaks.
type dialect int

const (
	dialectAnthropic dialect = iota
	dialectOpenAI
	dialectOllama
)

func (d dialect) String() string {
	switch d {
	case dialectAnthropic:
		return "anthropic"
	case dialectOllama:
		return "ollama"
	default:
		return "openai"
	}
}

// Server is a running fake provider.
type Server struct {
	t       testing.TB
	dialect dialect
	path    string
	srv     *httptest.Server

	mu    sync.Mutex
	turns []Turn
	next  int
	reqs  []Request
}

// NewAnthropic starts a fake Anthropic Messages API serving POST
// /v1/messages; give [Server.URL] to option.WithBaseURL.
func NewAnthropic(t testing.TB, turns ...Turn) *Server {
	t.Helper()
	return start(t, dialectAnthropic, "/v1/messages", turns)
}

// NewOpenAI starts a fake OpenAI Chat Completions API serving POST
// /v1/chat/completions; give [Server.URL] (ending in /v1) to
// option.WithBaseURL. Streams split text and tool-call arguments across
// chunks as OpenAI does.
func NewOpenAI(t testing.TB, turns ...Turn) *Server {
	t.Helper()
	return start(t, dialectOpenAI, "/v1/chat/completions", turns)
}

// NewOllama is [NewOpenAI] streaming the way Ollama's OpenAI-compatible
// endpoint does: every chunk's delta carries "role":"assistant" and
// "content" (empty beside tool calls), and each tool call arrives whole, with
// its complete arguments, in one delta.
func NewOllama(t testing.TB, turns ...Turn) *Server {
	t.Helper()
	return start(t, dialectOllama, "/v1/chat/completions", turns)
}

func start(t testing.TB, d dialect, path string, turns []Turn) *Server {
	t.Helper()
	for i, turn := range turns {
		for j, c := range turn.ToolCalls {
			if len(c.Input) > 0 && !json.Valid(c.Input) {
				t.Fatalf("llmfake: turn %d tool call %d (%s): input is not valid JSON: %s", i, j, c.Name, c.Input)
			}
		}
	}
	s := &Server{t: t, dialect: d, path: path, turns: append([]Turn(nil), turns...)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

// URL returns the base URL to give the SDK: the server root for Anthropic,
// the root plus "/v1" for OpenAI and Ollama.
func (s *Server) URL() string {
	if s.dialect == dialectAnthropic {
		return s.srv.URL
	}
	return s.srv.URL + "/v1"
}

// Requests returns a copy of every request received so far, in arrival
// order, including those beyond the script.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Remaining returns how many scripted turns have not been consumed.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.turns) - s.next
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("llmfake(%s): read request body: %v", s.dialect, err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != s.path {
		s.t.Errorf("llmfake(%s): unexpected request %s %s; the fake serves POST %s", s.dialect, r.Method, r.URL.Path, s.path)
		s.writeError(w, http.StatusNotFound, "", "llmfake: no such endpoint "+r.URL.Path)
		return
	}
	req, err := decodeRequest(r, body)
	if err != nil {
		s.t.Errorf("llmfake(%s): request body is not a valid request: %v", s.dialect, err)
		s.writeError(w, http.StatusBadRequest, "", "llmfake: "+err.Error())
		return
	}

	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	n := len(s.reqs)
	var turn Turn
	ok := s.next < len(s.turns)
	if ok {
		turn = s.turns[s.next]
		s.next++
	}
	total := len(s.turns)
	s.mu.Unlock()

	if !ok {
		s.t.Errorf("llmfake(%s): request %d is beyond the script of %d turn(s)", s.dialect, n, total)
		s.writeError(w, http.StatusInternalServerError, "", fmt.Sprintf("llmfake: request %d is beyond the script of %d turn(s)", n, total))
		return
	}
	if turn.Status != 0 && turn.Status != http.StatusOK {
		s.writeError(w, turn.Status, turn.RetryAfter, turn.Text)
		return
	}
	switch s.dialect {
	case dialectAnthropic:
		s.anthropicReply(w, req, n, turn)
	default:
		s.openAIReply(w, req, n, turn)
	}
}

func (s *Server) writeError(w http.ResponseWriter, status int, retryAfter, msg string) {
	if msg == "" {
		msg = fmt.Sprintf("llmfake: injected %d %s", status, http.StatusText(status))
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	var body any
	if s.dialect == dialectAnthropic {
		body = map[string]any{
			"type":  "error",
			"error": map[string]any{"type": anthropicErrorType(status), "message": msg},
		}
	} else {
		typ, code := openAIErrorType(status)
		body = map[string]any{
			"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code},
		}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value written is built from maps, strings and numbers.
		panic(fmt.Sprintf("llmfake: marshal response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func openAIErrorType(status int) (typ string, code any) {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", nil
	default:
		return "invalid_request_error", nil
	}
}

// decodeRequest reads the fields of either provider's request body.
func decodeRequest(r *http.Request, body []byte) (Request, error) {
	var raw struct {
		Model         string          `json:"model"`
		Stream        bool            `json:"stream"`
		System        json.RawMessage `json:"system"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCalls  json.RawMessage `json:"tool_calls"`
			ToolCallID string          `json:"tool_call_id"`
		} `json:"messages"`
		Tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
			Function    *struct {
				Name        string          `json:"name"`
				Description string          `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Request{}, err
	}
	req := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Header: r.Header.Clone(),
		Body:   json.RawMessage(body),
		Model:  raw.Model,
		Stream: raw.Stream,
		System: Message{Content: raw.System}.Text(),
	}
	if raw.StreamOptions != nil {
		req.IncludeUsage = raw.StreamOptions.IncludeUsage
	}
	for _, m := range raw.Messages {
		req.Messages = append(req.Messages, Message(m))
	}
	for _, tl := range raw.Tools {
		if tl.Function != nil {
			req.Tools = append(req.Tools, Tool{Name: tl.Function.Name, Description: tl.Function.Description, Schema: tl.Function.Parameters})
			continue
		}
		req.Tools = append(req.Tools, Tool{Name: tl.Name, Description: tl.Description, Schema: tl.InputSchema})
	}
	return req, nil
}

// toolInput returns the call's input as compact JSON, {} when empty.
func toolInput(c ToolCall) string {
	if len(bytes.TrimSpace(c.Input)) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, c.Input); err != nil {
		return "{}" // start rejected invalid input already.
	}
	return b.String()
}

// textPieces splits text into word-sized pieces, as providers stream it.
func textPieces(s string) []string {
	if s == "" {
		return nil
	}
	return strings.SplitAfter(s, " ")
}

// jsonPieces splits s into up to n non-empty pieces on rune boundaries, so
// the client must join partial JSON.
func jsonPieces(s string, n int) []string {
	rs := []rune(s)
	if len(rs) < n {
		n = len(rs)
	}
	if n <= 1 {
		return []string{s}
	}
	size := (len(rs) + n - 1) / n
	var out []string
	for len(rs) > 0 {
		k := min(size, len(rs))
		out = append(out, string(rs[:k]))
		rs = rs[k:]
	}
	return out
}

// sse writes server-sent events and flushes after each.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

// event writes one event; an empty name writes a bare data line.
func (e *sse) event(name string, data any) {
	var payload []byte
	if s, ok := data.(string); ok {
		payload = []byte(s)
	} else {
		var err error
		if payload, err = json.Marshal(data); err != nil {
			panic(fmt.Sprintf("llmfake: marshal event: %v", err))
		}
	}
	var b bytes.Buffer
	if name != "" {
		fmt.Fprintf(&b, "event: %s\n", name)
	}
	fmt.Fprintf(&b, "data: %s\n\n", payload)
	// A client that went away only loses the rest of the stream.
	_, _ = e.w.Write(b.Bytes())
	if e.f != nil {
		e.f.Flush()
	}
}
