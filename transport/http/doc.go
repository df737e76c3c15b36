// Package http serves a coderclaw.Runtime over HTTP with Server-Sent Events
// for streams, and offers a Client that is a coderclaw.Runtime talking to
// such a server, so a caller cannot tell a remote node from a local one.
//
// # Routes
//
// NewHandler serves these routes (JSON bodies, snake_case fields as the root
// types' tags):
//
//	POST /api/runtime/tasks/submit          SubmitRequest -> 201 Task
//	GET  /api/runtime/tasks                 query filter  -> TaskPage
//	GET  /api/runtime/tasks/{id}            -> Task (also .../{id}/state)
//	GET  /api/runtime/tasks/{id}/events     -> {"events":[Event...]}
//	GET  /api/runtime/tasks/{id}/stream     -> text/event-stream of Events
//	POST /api/runtime/tasks/{id}/cancel     -> Task
//	POST /api/runtime/tasks/{id}/respond    {"input":"..."} -> Task
//	GET  /api/runtime/agents                -> {"agents":[Agent...]}
//	GET  /api/runtime/skills                -> {"skills":[Skill...]}
//	GET  /api/runtime/status                -> NodeStatus
//	GET  /healthz                           -> {"status":"ok"} or 503
//
// The task list takes the query parameters status (repeated or
// comma-separated), agent_id, session_id, project, parent_id, created_after
// and created_before (RFC 3339), limit and cursor; an unknown parameter is
// an error, so a typo never silently matches every task.
//
// # Errors
//
// Every error, including an unknown route (404) and a wrong method (405,
// with an Allow header), is the JSON body
//
//	{"error":{"code":"not_found","message":"..."}}
//
// whose code is one of coderclaw.Codes and whose HTTP status is derived from
// the code in one place: invalid 400, unauthenticated 401, forbidden 403,
// not_found 404, conflict 409, internal 500, unavailable 503. Three
// statuses come from the transport itself and carry code invalid: 405 for a
// method a route does not take, 413 for a body larger than
// HandlerOptions.MaxBodyBytes and 415 for a body whose Content-Type is not
// JSON (a missing Content-Type is accepted). Bodies are
// decoded strictly: unknown fields, trailing data, wrong types and
// malformed JSON are 400 errors whose message names the field or the byte
// position. The cause of an internal error is logged, never sent.
//
// # Streams
//
// GET /api/runtime/tasks/{id}/stream answers 404 (as JSON) for an unknown
// task; otherwise it sends events as
//
//	id: <seq>
//	event: <type>
//	data: <Event as JSON>
//
// starting after the sequence number in the Last-Event-ID header, or in the
// after query parameter when the header is absent, so a reconnecting reader
// sees no gap and no duplicate. Comment lines are sent as heartbeats. The
// response ends after the event that makes the task terminal. When the
// runtime's stream ends without one (the task was already terminal before
// the requested position), an "end" event is sent; a runtime error is sent
// as an "error" event whose data is the error body above. Each write has a
// deadline (HandlerOptions.WriteTimeout), so a client that stops reading
// cannot hold the handler, and a client that goes away ends it. Server's
// Shutdown ends open streams at once, without an end event, and the Client
// reconnects to resume them; an "error" event with code unavailable (the
// runtime is stopping) is resumed the same way.
//
// # Client
//
// Client implements coderclaw.Runtime over these routes and is safe for
// concurrent use. A non-2xx answer becomes a *coderclaw.Error decoded from
// the body (or, for a body of another shape, one whose code follows the
// status). When no node answers, methods return a *coderclaw.Error with code
// unavailable whose message names the address and the reason. Client.Stream
// reconnects after a dropped connection with bounded backoff, resuming after
// the last event it yielded, and checks that sequence numbers follow each
// other without a gap; a break in the sequence is an internal error.
//
// Neither side keeps package-level state; a Handler, Server and Client are
// independent values safe for concurrent use.
package http
