package ws

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/coderclaw/coderclaw"
)

// errorBody is the JSON body of an HTTP answer that refuses a handshake,
// the same shape as the HTTP transport's error answers.
type errorBody struct {
	Error *coderclaw.Error `json:"error"`
}

// wireError converts err into the user-safe *coderclaw.Error an error frame
// carries. It is the one place where errors become frames. Context errors
// mean the connection ended before the runtime answered; they are reported
// as unavailable, not internal, and a code outside the closed set becomes
// internal.
func wireError(err error) *coderclaw.Error {
	var ce *coderclaw.Error
	if !errors.As(err, &ce) {
		switch {
		case errors.Is(err, context.Canceled):
			ce = coderclaw.Errorf(coderclaw.CodeUnavailable, "request cancelled")
		case errors.Is(err, context.DeadlineExceeded):
			ce = coderclaw.Errorf(coderclaw.CodeUnavailable, "request timed out")
		default:
			ce = coderclaw.AsError(err)
		}
	}
	if !ce.Code.Valid() {
		ce = &coderclaw.Error{Code: coderclaw.CodeInternal, Message: ce.Message}
	}
	return ce
}

// codeForStatus maps the HTTP status of a refused handshake to the code a
// client reports when the body is not this package's error shape.
func codeForStatus(status int) coderclaw.Code {
	switch {
	case status == http.StatusUnauthorized:
		return coderclaw.CodeUnauthenticated
	case status == http.StatusForbidden:
		return coderclaw.CodeForbidden
	case status == http.StatusNotFound || status == http.StatusGone:
		return coderclaw.CodeNotFound
	case status == http.StatusConflict:
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

// netReason is the innermost useful text of a network error, such as
// "connection refused".
func netReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the node closed the connection"
	}
	return err.Error()
}

// invalidf returns a *coderclaw.Error with code invalid.
func invalidf(format string, args ...any) *coderclaw.Error {
	return coderclaw.Errorf(coderclaw.CodeInvalid, format, args...)
}

// unavailablef returns a *coderclaw.Error with code unavailable.
func unavailablef(format string, args ...any) *coderclaw.Error {
	return coderclaw.Errorf(coderclaw.CodeUnavailable, format, args...)
}
