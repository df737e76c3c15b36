// Package ws serves a coderclaw.Runtime over WebSocket and offers a Client
// that is a coderclaw.Runtime talking to such a server, so a caller cannot
// tell a remote node from a local one. One connection carries any number of
// concurrent requests and task streams.
//
// # Endpoint
//
// A node mounts NewHandler at /api/runtime/ws (DefaultPath). A request that
// is not a WebSocket handshake is answered 426, a page of an origin other
// than the node's own (and not in HandlerOptions.OriginPatterns) 403, and
// any request after Handler.Shutdown 503, each with the HTTP transport's
// JSON error body {"error":{"code":"...","message":"..."}}. The handshake
// answer carries the header Coderclaw-Max-Message-Bytes, the largest
// message the server reads.
//
// # Protocol
//
// Every message is one JSON text frame; fields are snake_case as in the
// root package's types. A client sends requests:
//
//	{"id": <id>, "method": "<method>", "params": {...}}
//
// The id is chosen by the client: a string of 1 to 128 bytes or an integer
// in [0, 2^53); answers echo it. The methods and their params:
//
//	submit       SubmitRequest                        -> Task
//	task         {"task_id"}                          -> Task
//	tasks        Filter (params may be omitted)       -> TaskPage
//	events       {"task_id"}                          -> {"events": [Event...]}
//	cancel       {"task_id"}                          -> Task
//	respond      {"task_id", "input"}                 -> Task
//	agents       none                                 -> {"agents": [Agent...]}
//	skills       none                                 -> {"skills": [Skill...]}
//	status       none                                 -> NodeStatus
//	subscribe    {"task_id", "after_seq"}             -> event frames, then end
//	unsubscribe  {"subscription": <subscribe id>}     -> {}
//
// The server answers each request with exactly one of
//
//	{"id": <id>, "result": <result>}
//	{"id": <id>, "error": {"code": "<code>", "message": "..."}}
//
// where the code is one of coderclaw.Codes, the same for a condition as on
// every transport; the cause of an internal error is logged, never sent.
// Answers come in the order the runtime finishes them, not the order of
// the requests: requests run concurrently (at most
// HandlerOptions.MaxRequestsPerConn at once per connection; beyond that
// the server stops reading until one finishes). Ids of requests in flight
// should be distinct; the server only enforces it for live subscriptions.
//
// A subscription (the id of its subscribe request) receives the task's
// events with seq > after_seq, in order, without gap or duplicate:
//
//	{"id": <id>, "event": <Event>}
//
// and, after the event that makes the task terminal (or at once if the
// task was already terminal at after_seq), {"id": <id>, "end": true}. A
// subscription that fails instead ends with an error frame: not_found for
// an unknown task, unavailable when the node is shutting down or the
// connection already has HandlerOptions.MaxStreamsPerConn subscriptions
// (worth subscribing again later). After the answer to unsubscribe, no
// frame of that subscription follows and its id may be used again;
// unsubscribing an id that is not live is not_found.
//
// # Backpressure
//
// Each subscription has a bounded queue (HandlerOptions.StreamBuffer
// events) between the runtime's stream and the connection's single
// writer, which serves answers and subscriptions in turn, so a busy stream
// cannot starve the others. When a client reads slower than a task writes
// and the queue fills, the server never blocks the runtime or the
// connection's other subscriptions: it stops reading that stream and reads
// it again, after the last event queued, once the writer has emptied the
// queue. If the client takes nothing from a full queue for
// HandlerOptions.LagTimeout, the subscription lags: its queued events are
// dropped (a stuck connection holds one frame per subscription, not
// StreamBuffer) and in their place comes
//
//	{"id": <id>, "lagged": true, "last_seq": N}
//
// where N is the seq of the last event written before it; once the client
// has taken that frame the server reads the stream again after N, so the
// client still receives every event exactly once, in order. A client that
// takes no frame at all for HandlerOptions.WriteTimeout loses the
// connection.
//
// # Errors in frames
//
// Client frames are decoded strictly by one function: a frame that is not
// valid UTF-8, malformed JSON, a key that is unknown, misspelt (keys are
// case-sensitive) or repeated, a value of the wrong type, a null field, an
// unknown method or params that fail validation is answered by an error
// frame with code invalid whose message names the problem and, where it
// could be read, the frame's id (else the id is null). A binary message is
// answered the same way. The connection stays open after these errors; a
// message larger than HandlerOptions.MaxMessageBytes closes it with status
// 1009 (message too big).
//
// # Keepalive and shutdown
//
// The server pings every HandlerOptions.PingInterval and closes a
// connection whose pong does not come within PongTimeout; the Client pings
// too (WithKeepalive). Every frame is written under its own deadline
// (HandlerOptions.WriteTimeout, WithWriteTimeout) and the client's
// handshake under WithHandshakeTimeout; the upgrade request itself is
// bounded by the http.Server's ReadHeaderTimeout. Handler.Shutdown closes
// every connection with status 1001 (going away) and waits for their
// goroutines; clients reconnect.
//
// # Client
//
// Dial returns a Client, a coderclaw.Runtime safe for concurrent use whose
// calls share one connection and are matched to answers by id. When no
// node answers, methods return a *coderclaw.Error with code unavailable
// whose message reads "no CoderClaw node answers at <url>: <reason>". A
// lost connection fails the calls waiting for an answer with code
// unavailable (a submit may have taken effect and is never sent again);
// the next call opens a new connection. Client.Stream checks sequence
// continuity, and after a lost connection reconnects with bounded backoff
// and subscribes again after the last event it yielded, so its caller sees
// every event exactly once; a request larger than the node's limit is
// refused locally with code invalid.
//
// Neither side keeps package-level state. Every goroutine of a connection,
// on either side, ends when the connection ends.
package ws
