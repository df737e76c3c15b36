// Package coderclaw holds the contract and the domain of CoderClaw, a runtime
// for AI coding agents: the Runtime interface every front end uses and every
// transport implements, and the types that cross it (Task, Status, Event,
// SubmitRequest, Filter, Error).
//
// The package imports only the standard library. Implementations live below
// it: internal/engine is the in-process Runtime, transport/http (and the
// other transports) serve a Runtime and offer a Client that is one, so a
// caller cannot tell a local runtime from a remote one.
//
// The task lifecycle is a state machine validated by one pure function,
// ValidateTransition; an invalid transition is an *InvalidTransitionError.
// Errors that cross a transport are *Error values with a closed set of codes.
package coderclaw
