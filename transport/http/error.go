package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/coderclaw/coderclaw"
)

// errorBody is the JSON shape of every error response and SSE error event.
type errorBody struct {
	Error *coderclaw.Error `json:"error"`
}

// transportError is an error raised by the transport itself (not by the
// runtime) whose HTTP status does not follow from its code alone: 413 for an
// oversized body and 415 for a non-JSON content type, both code invalid.
type transportError struct {
	status int
	err    *coderclaw.Error
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// httpStatus maps an error code to its HTTP status. It is the one place
// where codes become statuses.
func httpStatus(c coderclaw.Code) int {
	switch c {
	case coderclaw.CodeInvalid:
		return http.StatusBadRequest
	case coderclaw.CodeNotFound:
		return http.StatusNotFound
	case coderclaw.CodeConflict:
		return http.StatusConflict
	case coderclaw.CodeUnauthenticated:
		return http.StatusUnauthorized
	case coderclaw.CodeForbidden:
		return http.StatusForbidden
	case coderclaw.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// codeForStatus maps an HTTP status to the code a client reports when the
// body of an error answer is not this package's error shape (a proxy's
// page, say).
func codeForStatus(status int) coderclaw.Code {
	switch {
	case status == http.StatusUnauthorized:
		return coderclaw.CodeUnauthenticated
	case status == http.StatusForbidden:
		return coderclaw.CodeForbidden
	case status == http.StatusNotFound || status == http.StatusGone:
		return coderclaw.CodeNotFound
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return coderclaw.CodeConflict
	case status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return coderclaw.CodeUnavailable
	case status >= 400 && status < 500:
		return coderclaw.CodeInvalid
	default:
		return coderclaw.CodeInternal
	}
}

// toWire converts err into the status and the user-safe *coderclaw.Error to
// send. Context errors that reach here mean the request ended before the
// runtime answered; they are reported as unavailable, not internal.
func toWire(err error) (int, *coderclaw.Error) {
	var te *transportError
	if errors.As(err, &te) {
		return te.status, te.err
	}
	var ce *coderclaw.Error
	if !errors.As(err, &ce) {
		switch {
		case errors.Is(err, context.Canceled):
			ce = coderclaw.Errorf(coderclaw.CodeUnavailable, "request cancelled")
		case errors.Is(err, context.DeadlineExceeded):
			ce = coderclaw.Errorf(coderclaw.CodeUnavailable, "request timed out")
		}
	}
	if ce == nil {
		ce = coderclaw.AsError(err)
	}
	if !ce.Code.Valid() {
		// A runtime that invents a code must not make the wire invent one.
		ce = &coderclaw.Error{Code: coderclaw.CodeInternal, Message: ce.Message}
	}
	return httpStatus(ce.Code), ce
}

// invalidf returns an *coderclaw.Error with code invalid.
func invalidf(format string, args ...any) *coderclaw.Error {
	return coderclaw.Errorf(coderclaw.CodeInvalid, format, args...)
}
