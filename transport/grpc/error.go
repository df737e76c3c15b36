package grpc

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"connectrpc.com/connect"

	"github.com/coderclaw/coderclaw"
)

// connectCode maps an error code to its gRPC code. It is the one place
// where codes become gRPC codes.
func connectCode(c coderclaw.Code) connect.Code {
	switch c {
	case coderclaw.CodeInvalid:
		return connect.CodeInvalidArgument
	case coderclaw.CodeNotFound:
		return connect.CodeNotFound
	case coderclaw.CodeConflict:
		return connect.CodeFailedPrecondition
	case coderclaw.CodeUnauthenticated:
		return connect.CodeUnauthenticated
	case coderclaw.CodeForbidden:
		return connect.CodePermissionDenied
	case coderclaw.CodeUnavailable:
		return connect.CodeUnavailable
	default:
		return connect.CodeInternal
	}
}

// codeOf maps a gRPC code to the error code a client reports. It inverts
// connectCode and gives every other gRPC code the nearest meaning.
func codeOf(c connect.Code) coderclaw.Code {
	switch c {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange, connect.CodeResourceExhausted:
		return coderclaw.CodeInvalid
	case connect.CodeNotFound:
		return coderclaw.CodeNotFound
	case connect.CodeFailedPrecondition, connect.CodeAborted, connect.CodeAlreadyExists:
		return coderclaw.CodeConflict
	case connect.CodeUnauthenticated:
		return coderclaw.CodeUnauthenticated
	case connect.CodePermissionDenied:
		return coderclaw.CodeForbidden
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeCanceled:
		return coderclaw.CodeUnavailable
	default:
		return coderclaw.CodeInternal
	}
}

// toWire converts err into the user-safe *coderclaw.Error to send. Context
// errors that reach here mean the request ended before the runtime
// answered; they are reported as unavailable, not internal.
func toWire(err error) *coderclaw.Error {
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
	return ce
}

// toConnect converts an error of the runtime (or of this package) into the
// *connect.Error a handler returns. An error connect raised itself (a
// malformed or oversized message) already carries its gRPC code.
func toConnect(err error) *connect.Error {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr
	}
	e := toWire(err)
	return connect.NewError(connectCode(e.Code), errors.New(e.Message))
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
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr.Message()
	}
	return err.Error()
}

// isNetError reports whether err comes from the network: a connection
// closed or reset in the middle of an exchange.
func isNetError(err error) bool {
	var ne net.Error
	var errno syscall.Errno
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.As(err, &errno)
}

// isDialError reports whether err is a failure to open a connection.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
