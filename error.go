package coderclaw

import (
	"errors"
	"fmt"
)

// Code is the closed set of error codes that cross every transport.
type Code string

// The error codes. Each transport maps them once (HTTP status, gRPC code).
const (
	CodeInvalid         Code = "invalid"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeUnavailable     Code = "unavailable"
	CodeInternal        Code = "internal"
)

// Codes lists every error code.
func Codes() []Code {
	return []Code{CodeInvalid, CodeNotFound, CodeConflict, CodeUnauthenticated,
		CodeForbidden, CodeUnavailable, CodeInternal}
}

// Valid reports whether c is one of the defined codes.
func (c Code) Valid() bool {
	for _, k := range Codes() {
		if c == k {
			return true
		}
	}
	return false
}

// Error is an application error: a code callers branch on and a message safe
// to show a user. Causes are logged where they happen, never sent. A
// transport's own refusals (wrong method, oversized body, unsupported media
// type) are code invalid; a caller's context that ends while a remote call
// is in flight surfaces as the context's error locally and, on the wire, as
// unavailable.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of an *Error in its chain,
// conflict for an *InvalidTransitionError, and internal for anything else.
// A nil error has no code.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var te *InvalidTransitionError
	if errors.As(err, &te) {
		return CodeConflict
	}
	return CodeInternal
}

// ErrorMessage returns the user-safe message of err: the message of an
// *Error or *InvalidTransitionError in its chain, or a generic text for an
// internal error whose details must not leave the node.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	var te *InvalidTransitionError
	if errors.As(err, &te) {
		return te.Error()
	}
	return "internal error"
}

// AsError converts any error to an *Error that is safe to send: an *Error in
// the chain is returned as is, anything else keeps only its code and the
// safe message.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if !e.Code.Valid() {
			return &Error{Code: CodeInternal, Message: e.Message}
		}
		return e
	}
	return &Error{Code: ErrorCode(err), Message: ErrorMessage(err)}
}
