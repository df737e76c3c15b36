// Package openai is the llm.Model for OpenAI's Chat Completions API and the
// servers that speak it (Ollama, vLLM, LM Studio, llama.cpp…), built on
// github.com/openai/openai-go/v3.
//
// Every call streams (Chat.Completions.NewStreaming with
// stream_options.include_usage) and rebuilds the answer with
// ChatCompletionAccumulator; text deltas go to the caller's onText as they
// arrive. Tool-call arguments are kept as the raw text the model streamed,
// so malformed JSON reaches the agent loop, which reports it back to the
// model as a tool error.
//
// Retries are the SDK's: 408, 409, 429, 5xx and connection errors are retried
// with exponential backoff that honours retry-after. When the retries are
// spent the error is an *llm.ProviderError carrying the last HTTP status (0
// when the server was never reached). A cancelled context ends a call
// promptly, also mid-stream, with an error wrapping ctx.Err().
//
// The client is built from Config alone: the SDK's environment defaults
// (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_CUSTOM_HEADERS…)
// are not read, so an OpenAI key in the environment is never sent to a
// local or third-party server.
//
// A Provider is safe for concurrent use. Its zero value is not usable; build
// one with New.
package openai

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultName is the provider name when Config.Name is empty.
	DefaultName = "openai"
	// DefaultBaseURL is OpenAI's API root.
	DefaultBaseURL = "https://api.openai.com/v1/"
	// DefaultModel is the model used against OpenAI's own API when neither
	// Config.Model nor Request.Model names one. Other servers have no
	// default model.
	DefaultModel = openai.ChatModelGPT5_4
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 4
)

// Config configures a Provider. A zero field means its documented default.
type Config struct {
	// Name identifies the provider in Name() and in errors: "openai",
	// "ollama", "vllm"…; empty means "openai".
	Name string
	// APIKey is sent as a bearer token. It is required for OpenAI's own
	// API (empty BaseURL) and optional for any other server: Ollama needs
	// none, and none is sent when it is empty. It is never logged (Config
	// prints it redacted).
	APIKey string
	// BaseURL is the root of the Chat Completions API; empty means
	// DefaultBaseURL. A URL with no path gets "/v1/" appended, so Ollama's
	// "http://127.0.0.1:11434" works as well as its
	// "http://127.0.0.1:11434/v1/"; any other path is kept as it is.
	BaseURL string
	// Model is the default model; empty means DefaultModel for OpenAI's
	// own API and, for other servers, that every Request must name one.
	Model string
	// MaxRetries is the number of retries of a failed attempt; 0 means
	// DefaultMaxRetries and a negative value means none.
	MaxRetries int
	// MaxTokens caps a response when Request.MaxTokens is 0; 0 leaves the
	// server's default. OpenAI's own API gets max_completion_tokens, other
	// servers max_tokens, the field they all understand.
	MaxTokens int
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Prices overrides and extends DefaultPrices, keyed by model name.
	Prices map[string]Price
	// Logger receives a debug line per call; nil means discard.
	Logger *slog.Logger
}

// String prints the config with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("openai.Config{Name:%q APIKey:%s BaseURL:%q Model:%q MaxRetries:%d MaxTokens:%d}",
		c.Name, redact(c.APIKey), c.BaseURL, c.Model, c.MaxRetries, c.MaxTokens)
}

// LogValue logs the config with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("apiKey", redact(c.APIKey)),
		slog.String("baseURL", c.BaseURL),
		slog.String("model", c.Model),
		slog.Int("maxRetries", c.MaxRetries),
		slog.Int("maxTokens", c.MaxTokens),
	)
}

func redact(key string) string {
	if key == "" {
		return `""`
	}
	return "[REDACTED]"
}

// Provider is an llm.Model backed by a Chat Completions API.
type Provider struct {
	name      string
	chat      openai.ChatCompletionService
	official  bool // OpenAI's own API
	model     string
	maxTokens int
	prices    map[string]Price
	log       *slog.Logger
}

var _ llm.Model = (*Provider)(nil)

// New returns a Provider for cfg. It fails on a BaseURL that is not an
// http(s) URL, and on an empty APIKey for OpenAI's own API.
func New(cfg Config) (*Provider, error) {
	name := cmp.Or(cfg.Name, DefaultName)
	base, official, err := baseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%s: Config.BaseURL: %w", name, err)
	}
	if official && cfg.APIKey == "" {
		return nil, fmt.Errorf("%s: no API key: set OPENAI_API_KEY or providers.%s.apiKey (Config.APIKey)", name, name)
	}
	if cfg.MaxTokens < 0 {
		return nil, fmt.Errorf("%s: Config.MaxTokens is %d; want 0 (server default) or more", name, cfg.MaxTokens)
	}
	retries := cmp.Or(cfg.MaxRetries, DefaultMaxRetries)
	if retries < 0 {
		retries = 0
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultHTTPClient()
	}
	opts := []option.RequestOption{
		option.WithHTTPClient(client),
		option.WithBaseURL(base),
		option.WithMaxRetries(retries),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	model := cfg.Model
	if model == "" && official {
		model = DefaultModel
	}
	prices := DefaultPrices()
	for m, p := range cfg.Prices {
		prices[m] = p
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		name:      name,
		chat:      openai.NewChatCompletionService(opts...),
		official:  official,
		model:     model,
		maxTokens: cfg.MaxTokens,
		prices:    prices,
		log:       log,
	}, nil
}

// baseURL normalises a configured base URL and reports whether it is
// OpenAI's own API.
func baseURL(raw string) (base string, official bool, err error) {
	if raw == "" {
		return DefaultBaseURL, true, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false, fmt.Errorf("%q is not an http(s) URL with a host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/"
	} else if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), u.Hostname() == "api.openai.com", nil
}

// defaultHTTPClient mirrors the SDK's own default: the default transport
// with a bound on the wait for response headers, and no overall timeout,
// since a streamed answer may legitimately take minutes.
func defaultHTTPClient() *http.Client {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.ResponseHeaderTimeout = 10 * time.Minute
		return &http.Client{Transport: t}
	}
	return &http.Client{}
}

// Name returns Config.Name, "openai" by default.
func (p *Provider) Name() string { return p.name }

// Complete sends req as one streamed Chat Completions call. See the package
// doc for retries and errors.
func (p *Provider) Complete(ctx context.Context, req llm.Request, onText func(string)) (llm.Response, error) {
	params, err := p.params(req)
	if err != nil {
		return llm.Response{}, err
	}
	start := time.Now()
	acc, err := p.stream(ctx, params, onText)
	if err != nil {
		return llm.Response{}, err
	}
	resp := response(acc)
	resp.CostUSD = cost(p.prices, resp, params.Model)
	p.log.DebugContext(ctx, "llm call",
		"provider", p.name, "model", resp.Model, "stop", resp.StopReason,
		"input_tokens", resp.Usage.InputTokens, "output_tokens", resp.Usage.OutputTokens,
		"cost_usd", resp.CostUSD, "elapsed", time.Since(start))
	return resp, nil
}

// stream runs one streamed call and returns the accumulated completion.
func (p *Provider) stream(ctx context.Context, params openai.ChatCompletionNewParams, onText func(string)) (*openai.ChatCompletionAccumulator, error) {
	stream := p.chat.NewStreaming(ctx, params)
	defer func() { _ = stream.Close() }()

	acc := &openai.ChatCompletionAccumulator{}
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			return nil, &llm.ProviderError{Provider: p.name, Err: fmt.Errorf("malformed stream: chunk %q does not continue completion %q", chunk.ID, acc.ID)}
		}
		if onText == nil {
			continue
		}
		for _, c := range chunk.Choices {
			if c.Index == 0 && c.Delta.Content != "" {
				onText(c.Delta.Content)
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, p.providerError(ctx, err)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
	if len(acc.Choices) == 0 || acc.Choices[0].FinishReason == "" {
		return nil, &llm.ProviderError{Provider: p.name, Retryable: true, Err: errors.New("stream ended before a finish_reason")}
	}
	return acc, nil
}
