// Package anthropic is the llm.Model for Anthropic's Messages API, built on
// github.com/anthropics/anthropic-sdk-go.
//
// Every call streams (Messages.NewStreaming) and rebuilds the message with
// Message.Accumulate; text deltas go to the caller's onText as they arrive.
// Tool inputs are kept as the raw JSON the model streamed, so malformed input
// reaches the agent loop, which reports it back to the model as a tool error.
//
// Retries are the SDK's: 408, 409, 429, 5xx and connection errors are retried
// with exponential backoff that honours retry-after. When the retries are
// spent the error is an *llm.ProviderError carrying the last HTTP status (0
// when the server was never reached). A cancelled context ends a call
// promptly, also mid-stream, with an error wrapping ctx.Err().
//
// The client is built from Config alone: the SDK's environment defaults
// (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, profiles) are not read, so the
// caller's configuration is the only source of the key and the endpoint.
//
// A Provider is safe for concurrent use. Its zero value is not usable; build
// one with New.
package anthropic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// ProviderName is the name a Provider reports and puts in its errors.
const ProviderName = "anthropic"

// Defaults applied by New to zero Config fields.
const (
	// DefaultModel is the model used when neither Config.Model nor
	// Request.Model names one: the current Sonnet with a known list price.
	DefaultModel = anthropic.ModelClaudeSonnet4_6
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 4
	// DefaultMaxTokens caps each response when the request sets no limit.
	DefaultMaxTokens = 8192
)

// Config configures a Provider. A zero field means its documented default.
type Config struct {
	// APIKey is the Anthropic API key; required. It is sent as x-api-key
	// and never logged (Config prints it redacted).
	APIKey string
	// BaseURL is the API root; empty means https://api.anthropic.com.
	BaseURL string
	// Model is the default model; empty means DefaultModel.
	Model string
	// MaxRetries is the number of retries of a failed attempt; 0 means
	// DefaultMaxRetries and a negative value means none.
	MaxRetries int
	// MaxTokens caps a response when Request.MaxTokens is 0; 0 means
	// DefaultMaxTokens.
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
	return fmt.Sprintf("anthropic.Config{APIKey:%s BaseURL:%q Model:%q MaxRetries:%d MaxTokens:%d}",
		redact(c.APIKey), c.BaseURL, c.Model, c.MaxRetries, c.MaxTokens)
}

// LogValue logs the config with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
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

// Provider is an llm.Model backed by the Anthropic Messages API.
type Provider struct {
	msgs      anthropic.MessageService
	model     string
	maxTokens int
	prices    map[string]Price
	log       *slog.Logger
}

var _ llm.Model = (*Provider)(nil)

// New returns a Provider for cfg. It fails when cfg.APIKey is empty.
func New(cfg Config) (*Provider, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("anthropic: no API key: set ANTHROPIC_API_KEY or providers.anthropic.apiKey (Config.APIKey)")
	}
	if cfg.MaxTokens < 0 {
		return nil, fmt.Errorf("anthropic: Config.MaxTokens is %d; want 0 (default) or more", cfg.MaxTokens)
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
		option.WithEnvironmentProduction(),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(retries),
	}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
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
		msgs:      anthropic.NewMessageService(opts...),
		model:     cmp.Or(cfg.Model, DefaultModel),
		maxTokens: cmp.Or(cfg.MaxTokens, DefaultMaxTokens),
		prices:    prices,
		log:       log,
	}, nil
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

// Name returns "anthropic".
func (p *Provider) Name() string { return ProviderName }

// Complete sends req as one streamed Messages call. See the package doc for
// retries and errors.
func (p *Provider) Complete(ctx context.Context, req llm.Request, onText func(string)) (llm.Response, error) {
	params, err := p.params(req)
	if err != nil {
		return llm.Response{}, err
	}
	start := time.Now()
	msg, inputs, err := p.stream(ctx, params, onText)
	if err != nil {
		return llm.Response{}, err
	}
	resp := response(msg, inputs)
	resp.CostUSD = cost(p.prices, msg, params.Model)
	p.log.DebugContext(ctx, "llm call",
		"provider", ProviderName, "model", resp.Model, "stop", resp.StopReason,
		"input_tokens", resp.Usage.InputTokens, "output_tokens", resp.Usage.OutputTokens,
		"cost_usd", resp.CostUSD, "elapsed", time.Since(start))
	return resp, nil
}

// stream runs one streamed call and returns the accumulated message and the
// raw input JSON each tool_use block streamed, by block index.
func (p *Provider) stream(ctx context.Context, params anthropic.MessageNewParams, onText func(string)) (anthropic.Message, map[int64][]byte, error) {
	stream := p.msgs.NewStreaming(ctx, params)
	defer func() { _ = stream.Close() }()

	var msg anthropic.Message
	// Accumulate replaces malformed tool input with {}; the raw bytes are
	// kept here so the model can be told what it got wrong.
	inputs := map[int64][]byte{}
	stopped := false
	for stream.Next() {
		ev := stream.Current()
		if err := msg.Accumulate(ev); err != nil {
			return msg, nil, &llm.ProviderError{Provider: ProviderName, Err: fmt.Errorf("malformed stream: %w", err)}
		}
		switch ev.Type {
		case "content_block_delta":
			switch ev.Delta.Type {
			case "text_delta":
				if onText != nil && ev.Delta.Text != "" {
					onText(ev.Delta.Text)
				}
			case "input_json_delta":
				inputs[ev.Index] = append(inputs[ev.Index], ev.Delta.PartialJSON...)
			}
		case "message_stop":
			stopped = true
		}
	}
	if err := stream.Err(); err != nil {
		return msg, nil, providerError(ctx, err)
	}
	if ctx.Err() != nil {
		return msg, nil, fmt.Errorf("anthropic: %w", ctx.Err())
	}
	if !stopped {
		return msg, nil, &llm.ProviderError{Provider: ProviderName, Retryable: true, Err: errors.New("stream ended before message_stop")}
	}
	return msg, inputs, nil
}
