package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// apiError is the provider's own account of a failure, short enough to show
// a user; it unwraps to the SDK's *anthropic.Error.
type apiError struct {
	typ, msg, requestID string
	cause               error
}

func (e *apiError) Error() string {
	s := e.msg
	if e.typ != "" {
		s = e.typ + ": " + s
	}
	if e.requestID != "" {
		s += " (request-id " + e.requestID + ")"
	}
	return s
}

func (e *apiError) Unwrap() error { return e.cause }

// providerError translates an error of the SDK, after its retries. A
// cancelled or expired ctx is returned as such, not as a provider failure.
func providerError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("anthropic: %w", ctx.Err())
	}
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		// No HTTP answer: connection refused, reset, DNS, a cut stream.
		return &llm.ProviderError{Provider: ProviderName, Retryable: true, Err: err}
	}
	status := ae.StatusCode
	typ := string(ae.Type())
	if status == 0 || status == http.StatusOK {
		// An error event inside a stream that began with 200: its type
		// says what the status would have been.
		status = statusOfType(typ)
	}
	msg := errorMessage(ae)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &llm.ProviderError{
		Provider:  ProviderName,
		Status:    status,
		Retryable: retryable(status),
		Err:       &apiError{typ: typ, msg: msg, requestID: ae.RequestID, cause: ae},
	}
}

// errorMessage reads error.message from the body of an API error.
func errorMessage(ae *anthropic.Error) string {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(ae.RawJSON()), &body); err != nil {
		return ""
	}
	return body.Error.Message
}

// retryable reports whether the SDK would have retried status.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusConflict ||
		status == http.StatusTooManyRequests || status >= 500
}

// statusOfType maps Anthropic's error types to their documented statuses.
func statusOfType(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	default:
		return http.StatusInternalServerError
	}
}
