package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/transport/internal/wire"
)

// The methods of client frames.
const (
	methodSubmit      = "submit"
	methodTask        = "task"
	methodTasks       = "tasks"
	methodEvents      = "events"
	methodCancel      = "cancel"
	methodRespond     = "respond"
	methodAgents      = "agents"
	methodSkills      = "skills"
	methodStatus      = "status"
	methodSubscribe   = "subscribe"
	methodUnsubscribe = "unsubscribe"
)

// knownMethods lists the methods for error messages.
const knownMethods = "submit, task, tasks, events, cancel, respond, agents, skills, status, subscribe, unsubscribe"

// Limits of request ids.
const (
	maxIDBytes = 128
	// maxIntID is the largest integer id: the largest integer a JSON
	// number holds exactly in JavaScript (2^53-1).
	maxIntID = 1<<53 - 1
)

// reqID is a request id in its canonical JSON form: an integer such as 17
// or a string such as "a". The empty reqID stands for null, the id of an
// error frame for a frame whose id could not be read.
type reqID string

// MarshalJSON writes the id's canonical form, or null.
func (id reqID) MarshalJSON() ([]byte, error) {
	if id == "" {
		return []byte("null"), nil
	}
	return []byte(id), nil
}

// intID is the reqID of an integer.
func intID(n int64) reqID { return reqID(strconv.FormatInt(n, 10)) }

// int returns the integer an id holds, if it holds one.
func (id reqID) int() (int64, bool) {
	if id == "" || id[0] == '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(id), 10, 64)
	return n, err == nil
}

// parseID reads an id from its JSON text. field names the id in errors.
func parseID(raw json.RawMessage, field string) (reqID, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalidf("%s: %v", field, err)
		}
		if s == "" || len(s) > maxIDBytes {
			return "", invalidf("%s: a string id must have 1 to %d bytes, got %d", field, maxIDBytes, len(s))
		}
		b, err := json.Marshal(s)
		if err != nil {
			return "", invalidf("%s: %v", field, err)
		}
		return reqID(b), nil
	}
	if isDigits(raw) {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n > maxIntID {
			return "", invalidf("%s: integer %s is larger than %d", field, raw, int64(maxIntID))
		}
		return intID(n), nil
	}
	return "", invalidf("%s: want a string or a non-negative integer, got JSON %s", field, jsonKind(raw))
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonKind names the kind of a JSON value from its text, for messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if len(raw) > 32 {
		return "number " + string(raw[:32]) + "..."
	}
	return "number " + string(raw)
}

// Parameters of the methods that take more than a filter or a submit
// request. Their JSON tags are the wire names.
type (
	taskParams struct {
		TaskID string `json:"task_id"`
	}
	respondParams struct {
		TaskID string `json:"task_id"`
		Input  string `json:"input"`
	}
	subscribeParams struct {
		TaskID   string `json:"task_id"`
		AfterSeq int64  `json:"after_seq"`
	}
	unsubscribeParams struct {
		// Subscription is the id of the subscribe request to end.
		Subscription reqID `json:"subscription"`
	}
)

// Results of the methods whose answer is a list.
type (
	eventsResult struct {
		Events []coderclaw.Event `json:"events"`
	}
	agentsResult struct {
		Agents []coderclaw.Agent `json:"agents"`
	}
	skillsResult struct {
		Skills []coderclaw.Skill `json:"skills"`
	}
	emptyResult struct{}
)

// request is a decoded client frame. Params holds the method's parameters
// by value: coderclaw.SubmitRequest (submit), coderclaw.Filter (tasks),
// taskParams (task, events, cancel), respondParams, subscribeParams,
// unsubscribeParams, or nil (agents, skills, status).
type request struct {
	ID     reqID
	Method string
	Params any
}

// wireRequest is the JSON shape of a client frame.
type wireRequest struct {
	ID     reqID  `json:"id"`
	Method string `json:"method"`
	Params any    `json:"params,omitempty"`
}

// encodeRequest is the inverse of decodeRequest.
func encodeRequest(r request) ([]byte, error) {
	b, err := json.Marshal(wireRequest(r))
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", r.Method, err)
	}
	return b, nil
}

// frameError is why a client frame was refused: the error to send and the
// frame's id, empty when it could not be read.
type frameError struct {
	ID  reqID
	Err *coderclaw.Error
}

func (e *frameError) Error() string { return e.Err.Error() }
func (e *frameError) Unwrap() error { return e.Err }

// decodeRequest decodes one client frame, strictly: the frame must be valid
// UTF-8 holding one JSON object with exactly the keys id, method and
// (depending on the method) params, spelled exactly so and each once; the
// params must be an object with the method's fields, of the right types.
// It is the one decoder of client frames. On success the id is well formed,
// the method known and the params valid (a submit request passes
// SubmitRequest.Validate, a filter Filter.Validate). Its error is a
// *frameError with code invalid that names the problem and carries the
// frame's id once the id has been read.
func decodeRequest(data []byte) (request, error) {
	fail := func(id reqID, err error) (request, error) {
		return request{}, &frameError{ID: id, Err: coderclaw.AsError(err)}
	}
	if !utf8.Valid(data) {
		return fail("", invalidf("frame is not valid UTF-8"))
	}
	fields, err := objectFields(data, "frame")
	if err != nil {
		return fail("", err)
	}
	rawID, ok := lookup(fields, "id")
	if !ok {
		return fail("", invalidf("id: missing: every request needs an id (a string or a non-negative integer)"))
	}
	id, err := parseID(rawID, "id")
	if err != nil {
		return fail("", err)
	}
	for _, f := range fields {
		switch f.key {
		case "id", "method", "params":
		default:
			return fail(id, invalidf("unknown field %q (known fields: id, method, params)", f.key))
		}
	}
	rawMethod, ok := lookup(fields, "method")
	if !ok {
		return fail(id, invalidf("method: missing (one of %s)", knownMethods))
	}
	var method string
	if err := json.Unmarshal(rawMethod, &method); err != nil {
		return fail(id, invalidf("method: want a string, got JSON %s", jsonKind(rawMethod)))
	}
	rawParams, hasParams := lookup(fields, "params")
	if hasParams && string(bytes.TrimSpace(rawParams)) == "null" {
		hasParams = false
	}
	params, err := decodeParams(method, rawParams, hasParams)
	if err != nil {
		return fail(id, err)
	}
	return request{ID: id, Method: method, Params: params}, nil
}

// decodeParams decodes the params of a method.
func decodeParams(method string, raw json.RawMessage, present bool) (any, error) {
	need := func(dst any, fields string) error {
		if !present {
			return invalidf("params: missing: %s takes an object with %s", method, fields)
		}
		return decodeObject(raw, "params", dst)
	}
	switch method {
	case methodSubmit:
		var p coderclaw.SubmitRequest
		if err := need(&p, "input and agent_id"); err != nil {
			return nil, err
		}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		return p, nil
	case methodTasks:
		var f coderclaw.Filter
		if present {
			if err := decodeObject(raw, "params", &f); err != nil {
				return nil, err
			}
		}
		if err := f.Validate(); err != nil {
			return nil, err
		}
		return f, nil
	case methodTask, methodEvents, methodCancel:
		var p taskParams
		if err := need(&p, "task_id"); err != nil {
			return nil, err
		}
		return p, nil
	case methodRespond:
		var p respondParams
		if err := need(&p, "task_id and input"); err != nil {
			return nil, err
		}
		return p, nil
	case methodSubscribe:
		var p subscribeParams
		if err := need(&p, "task_id and after_seq"); err != nil {
			return nil, err
		}
		if p.AfterSeq < 0 {
			return nil, invalidf("params.after_seq: %d is negative", p.AfterSeq)
		}
		return p, nil
	case methodUnsubscribe:
		if !present {
			return nil, invalidf("params: missing: unsubscribe takes an object with subscription")
		}
		fields, err := objectFields(raw, "params")
		if err != nil {
			return nil, err
		}
		var p unsubscribeParams
		for _, f := range fields {
			if f.key != "subscription" {
				return nil, invalidf("params: unknown field %q (known fields: subscription)", f.key)
			}
			if p.Subscription, err = parseID(f.raw, "params.subscription"); err != nil {
				return nil, err
			}
		}
		if p.Subscription == "" {
			return nil, invalidf("params.subscription: missing: name the id of the subscribe request")
		}
		return p, nil
	case methodAgents, methodSkills, methodStatus:
		if present {
			fields, err := objectFields(raw, "params")
			if err != nil {
				return nil, err
			}
			if len(fields) > 0 {
				return nil, invalidf("params: %s takes no parameters, got field %q", method, fields[0].key)
			}
		}
		return nil, nil
	}
	return nil, invalidf("unknown method %q (known methods: %s)", method, knownMethods)
}

// field is one member of a JSON object, in the order of the text.
type field struct {
	key string
	raw json.RawMessage
}

func lookup(fs []field, key string) (json.RawMessage, bool) {
	for _, f := range fs {
		if f.key == key {
			return f.raw, true
		}
	}
	return nil, false
}

// objectFields splits data, which must be exactly one JSON object, into its
// members. A repeated key is an error, so no member silently wins. what
// names the object in errors ("frame", "params").
func objectFields(data []byte, what string) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(data, what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("%s: want a JSON object, got JSON %s", what, jsonKind(data))
	}
	var fs []field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(data, what, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalidf("malformed JSON in %s: object key is not a string", what)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(data, what, err)
		}
		if seen[key] {
			return nil, invalidf("%s: field %q appears twice", what, key)
		}
		seen[key] = true
		fs = append(fs, field{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(data, what, err)
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		for off < int64(len(data)) && wire.IsSpace(data[off]) {
			off++
		}
		return nil, invalidf("malformed JSON in %s: unexpected data after the object at %s", what, wire.Position(data, off))
	}
	return fs, nil
}

// decodeObject decodes data, a JSON object, into the struct dst points to,
// strictly: every key must be one of the struct's JSON names spelled
// exactly, and no value may be null or of the wrong type.
func decodeObject(data []byte, what string, dst any) error {
	fs, err := objectFields(data, what)
	if err != nil {
		return err
	}
	known := jsonFields(dst)
	for _, f := range fs {
		if !containsName(known, f.key) {
			return invalidf("%s: unknown field %q (known fields: %s)", what, f.key, strings.Join(known, ", "))
		}
		if string(bytes.TrimSpace(f.raw)) == "null" {
			return invalidf("%s.%s: null is not a value here: omit the field instead", what, f.key)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			name := what
			if typ.Field != "" {
				name += "." + typ.Field
			}
			return invalidf("%s: want %s, got JSON %s", name, wire.KindOf(typ.Type), typ.Value)
		}
		var inv *json.InvalidUnmarshalError
		if errors.As(err, &inv) {
			return fmt.Errorf("decode %s: %w", what, err)
		}
		return invalidf("%s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func containsName(names []string, s string) bool {
	for _, n := range names {
		if n == s {
			return true
		}
	}
	return false
}

// syntaxError describes a failure of encoding/json to read data.
func syntaxError(data []byte, what string, err error) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return invalidf("%s is empty: want a JSON object", what)
	}
	// The streaming decoder's offsets are relative to what it has buffered;
	// a whole-input check places the error exactly.
	var raw json.RawMessage
	if uerr := json.Unmarshal(data, &raw); uerr != nil {
		err = uerr
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return invalidf("malformed JSON in %s at %s: %s", what, wire.Position(data, max(syn.Offset-1, 0)), syn.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("malformed JSON in %s: it ends before the JSON value is complete", what)
	}
	return invalidf("malformed JSON in %s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
}

// jsonFields lists the JSON names of the fields of the struct dst points to.
func jsonFields(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// replyKind says what a server frame carries.
type replyKind int

const (
	replyResult replyKind = iota + 1
	replyError
	replyEvent
	replyEnd
	replyLagged
)

// reply is a decoded server frame.
type reply struct {
	ID      reqID
	Kind    replyKind
	Result  json.RawMessage
	Err     *coderclaw.Error
	Event   coderclaw.Event
	LastSeq int64
}

// Server frames. Exactly one of the forms is sent per frame.
type (
	resultFrame struct {
		ID     reqID `json:"id"`
		Result any   `json:"result"`
	}
	errorFrame struct {
		ID    reqID            `json:"id"`
		Error *coderclaw.Error `json:"error"`
	}
	eventFrame struct {
		ID    reqID            `json:"id"`
		Event *coderclaw.Event `json:"event"`
	}
	endFrame struct {
		ID  reqID `json:"id"`
		End bool  `json:"end"`
	}
	laggedFrame struct {
		ID      reqID `json:"id"`
		Lagged  bool  `json:"lagged"`
		LastSeq int64 `json:"last_seq"`
	}
)

// decodeReply decodes one server frame. The envelope is strict (exactly one
// of the forms of the package documentation, keys spelled exactly, an id
// on every frame but an error frame's, valid error codes); the contents of
// results and events are decoded by their receivers, leniently, so a node
// that adds a field does not break older clients.
func decodeReply(data []byte) (reply, error) {
	fields, err := objectFields(data, "frame")
	if err != nil {
		return reply{}, err
	}
	var r reply
	var hasID bool
	for _, f := range fields {
		switch f.key {
		case "id":
			hasID = true
			if string(bytes.TrimSpace(f.raw)) != "null" {
				if r.ID, err = parseID(f.raw, "id"); err != nil {
					return reply{}, err
				}
			}
		case "result", "error", "event", "end", "lagged":
			if r.Kind != 0 {
				return reply{}, invalidf("frame: %q comes with another form in one frame", f.key)
			}
			if err := decodeReplyBody(&r, f.key, f.raw); err != nil {
				return reply{}, err
			}
		case "last_seq":
			if err := json.Unmarshal(f.raw, &r.LastSeq); err != nil || r.LastSeq < 0 {
				return reply{}, invalidf("last_seq: want a non-negative integer, got JSON %s", jsonKind(f.raw))
			}
		default:
			return reply{}, invalidf("frame: unknown field %q", f.key)
		}
	}
	switch {
	case !hasID:
		return reply{}, invalidf("frame: id missing")
	case r.Kind == 0:
		return reply{}, invalidf("frame: none of result, error, event, end, lagged")
	case r.ID == "" && r.Kind != replyError:
		return reply{}, invalidf("frame: null id on a frame that is not an error")
	case r.Kind != replyLagged && hasKey(fields, "last_seq"):
		return reply{}, invalidf("frame: last_seq on a frame that is not lagged")
	case r.Kind == replyLagged && !hasKey(fields, "last_seq"):
		return reply{}, invalidf("frame: lagged without last_seq")
	}
	return r, nil
}

func hasKey(fs []field, key string) bool {
	_, ok := lookup(fs, key)
	return ok
}

func decodeReplyBody(r *reply, key string, raw json.RawMessage) error {
	switch key {
	case "result":
		r.Kind, r.Result = replyResult, raw
	case "error":
		var e coderclaw.Error
		if err := json.Unmarshal(raw, &e); err != nil {
			return invalidf("error: %v", err)
		}
		if !e.Code.Valid() || e.Message == "" {
			return invalidf("error: code %q is not a known code or the message is empty", e.Code)
		}
		r.Kind, r.Err = replyError, &e
	case "event":
		if err := json.Unmarshal(raw, &r.Event); err != nil {
			return invalidf("event: %v", err)
		}
		if r.Event.Seq < 1 {
			return invalidf("event: seq %d is not positive", r.Event.Seq)
		}
		r.Kind = replyEvent
	case "end", "lagged":
		if string(bytes.TrimSpace(raw)) != "true" {
			return invalidf("%s: want true, got JSON %s", key, jsonKind(raw))
		}
		r.Kind = replyEnd
		if key == "lagged" {
			r.Kind = replyLagged
		}
	}
	return nil
}
