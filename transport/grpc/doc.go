// Package grpc serves a coderclaw.Runtime as the protobuf service
// coderclaw.v1.RuntimeService (proto/coderclaw/v1/runtime.proto) over
// gRPC, gRPC-Web and Connect on an ordinary net/http server, and offers a
// Client that is a coderclaw.Runtime talking to such a server, so a caller
// cannot tell a remote node from a local one.
//
// # Contract
//
// Every Runtime method is one RPC, its request and answer mirroring the root
// types field for field:
//
//	Submit        SubmitRequest       -> SubmitResponse{task}
//	GetTask       GetTaskRequest{id}  -> GetTaskResponse{task}        (Runtime.Task)
//	ListTasks     ListTasksRequest    -> ListTasksResponse{tasks, next_cursor} (Runtime.Tasks)
//	ListEvents    ListEventsRequest   -> ListEventsResponse{events}   (Runtime.Events)
//	StreamEvents  StreamEventsRequest{id, after_seq} -> stream StreamEventsResponse{event}
//	Cancel        CancelRequest{id}   -> CancelResponse{task}
//	Respond       RespondRequest{id, input} -> RespondResponse{task}
//	ListAgents, ListSkills, GetStatus -> agents, skills, node status
//
// Statuses and event types travel as the lowercase strings of every other
// wire, an event's Data as JSON text, times as google.protobuf.Timestamp and
// the uptime as google.protobuf.Duration, so grpcurl output reads like the
// REST API. Strings that are not valid UTF-8 (a command's raw output, say)
// have each invalid byte replaced by U+FFFD, as encoding/json does on the
// HTTP transport; a SubmitRequest whose checked fields are not valid UTF-8
// is refused by the Client with the error SubmitRequest.Validate gives.
// Integers the root types hold as int travel as int32 (progress, priority,
// attempts, limit, counts) or int64 (seq, position); a value beyond int32
// is clamped, which keeps it out of range for validation.
//
// # Errors
//
// Errors cross as gRPC status codes with the user-safe message as the
// status message. The mapping is made in one place (connectCode and
// codeOf):
//
//	coderclaw code    gRPC code              back to coderclaw
//	invalid           InvalidArgument        InvalidArgument, OutOfRange, ResourceExhausted
//	not_found         NotFound               NotFound
//	conflict          FailedPrecondition     FailedPrecondition, Aborted, AlreadyExists
//	unauthenticated   Unauthenticated        Unauthenticated
//	forbidden         PermissionDenied       PermissionDenied
//	unavailable       Unavailable            Unavailable, DeadlineExceeded, Canceled
//	internal          Internal               Internal, Unknown, DataLoss, Unimplemented
//
// conflict is FailedPrecondition rather than Aborted: the call was refused
// because of the task's state (cancelling a finished task), and retrying it
// unchanged cannot succeed, which is what FailedPrecondition means to gRPC
// clients. ResourceExhausted comes from a CoderClaw node only for a request
// larger than HandlerOptions.MaxRecvBytes, so it reads back as invalid, as
// the HTTP transport's 413 does. A malformed protobuf body is
// InvalidArgument. Context errors that reach the handler mean the request
// ended before the runtime answered and are sent as Unavailable. The cause
// of an internal error is logged, never sent.
//
// # Server
//
// NewHandler returns a Handler for the node's existing net/http listener;
// Mount registers it on an http.ServeMux next to the node's other routes.
// It serves the three protocols on the same paths
// (/coderclaw.v1.RuntimeService/<Method>) plus gRPC server reflection v1
// and v1alpha, so `grpcurl -plaintext host:port list` and calls work
// without the .proto file (reflection describes every protobuf type
// compiled into the binary; HandlerOptions.NoReflection turns it off).
// gRPC and reflection need HTTP/2: over plain TCP the node's http.Server
// must enable h2c (Protocols with SetUnencryptedHTTP2(true)); Connect and
// gRPC-Web also work over HTTP/1.1. Request messages are bounded
// (HandlerOptions.MaxRecvBytes), as are answers (MaxSendBytes), every unary
// call (UnaryTimeout) and every write (WriteTimeout), so a client that
// stops reading cannot hold a handler; a panic in the runtime is logged and
// answered as internal. StreamEvents sends its response headers (with
// "Coderclaw-Stream: open") as soon as it accepts a stream, and ends after
// the terminal event. Handler.EndStreams, registered with
// http.Server.RegisterOnShutdown, ends open streams with Unavailable so
// that Shutdown does not wait for them, and clients resume elsewhere or
// later.
//
// # Client
//
// Client implements coderclaw.Runtime and is safe for concurrent use. It
// speaks gRPC by default (over h2c for http:// addresses), or Connect or
// gRPC-Web with WithProtocol. Errors are *coderclaw.Error values with the
// codes above; when no node answers, methods return code unavailable with
// a message that names the address and the reason. Client.Stream checks
// that sequence numbers follow each other (a gap or a repeat is an internal
// error) and, when the stream breaks before the terminal event (a node
// restart, a dropped connection, a node shutting down), reconnects with
// bounded backoff that honours ctx and resumes after the last event it
// yielded, so the caller sees no gap and no duplicate. Until a node has
// accepted the stream once, a failure is reported at once instead (no node
// answers, or it is shutting down), as on the HTTP transport.
//
// Neither side keeps package-level state; Handler and Client values are
// independent and safe for concurrent use.
package grpc
