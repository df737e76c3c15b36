package openai

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// apiError is the server's own account of a failure, short enough to show
// a user; it unwraps to the SDK's *openai.Error.
type apiError struct {
	code, msg string
	cause     error
}

func (e *apiError) Error() string {
	if e.code != "" {
		return e.code + ": " + e.msg
	}
	return e.msg
}

func (e *apiError) Unwrap() error { return e.cause }

// providerError translates an error of the SDK, after its retries. A
// cancelled or expired ctx is returned as such, not as a provider failure.
func (p *Provider) providerError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
	var ae *openai.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		if msg == "" {
			msg = http.StatusText(ae.StatusCode)
		}
		return &llm.ProviderError{
			Provider:  p.name,
			Status:    ae.StatusCode,
			Retryable: retryable(ae.StatusCode),
			Err:       &apiError{code: cmp.Or(ae.Code, ae.Type), msg: msg, cause: ae},
		}
	}
	// No HTTP answer (connection refused, reset, DNS), or a stream that
	// began with 200 and then failed: an error event, a cut or garbled
	// stream. Each is worth another try later.
	return &llm.ProviderError{Provider: p.name, Retryable: true, Err: err}
}

// retryable reports whether the SDK would have retried status.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusConflict ||
		status == http.StatusTooManyRequests || status >= 500
}
