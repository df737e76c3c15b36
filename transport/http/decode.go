package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/transport/internal/wire"
)

// decodeJSON reads r's body, at most limit bytes, as exactly one JSON value
// into dst, strictly: unknown fields, trailing data and wrong types are
// errors. It is the one body decoder of every handler. Its errors are
// *coderclaw.Error values with code invalid that name the problem (413 and
// 415 ride on a *transportError), except a misuse of dst, which is internal.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		return &transportError{
			status: http.StatusUnsupportedMediaType,
			err:    invalidf("unsupported Content-Type %q: send application/json", ct),
		}
	}
	var data []byte
	if r.Body != nil {
		var err error
		data, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &transportError{
					status: http.StatusRequestEntityTooLarge,
					err:    invalidf("request body exceeds the limit of %d bytes", mbe.Limit),
				}
			}
			return invalidf("reading the request body failed: %v", err)
		}
	}
	return unmarshalStrict(data, dst)
}

// isJSONMediaType reports whether a Content-Type names JSON
// (application/json or a +json type such as application/merge-patch+json).
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// unmarshalStrict decodes data as exactly one JSON value into dst.
func unmarshalStrict(data []byte, dst any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return invalidf("request body is empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(data, dst, err)
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		for off < int64(len(data)) && wire.IsSpace(data[off]) {
			off++
		}
		return invalidf("malformed JSON: unexpected data after the JSON value at %s", wire.Position(data, off))
	}
	return nil
}

// jsonError turns an error of encoding/json into a message that names the
// problem: the position of a syntax error, the field of a type mismatch,
// the unknown field.
func jsonError(data []byte, dst any, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &syn):
		return invalidf("malformed JSON at %s: %s", wire.Position(data, max(syn.Offset-1, 0)), syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("malformed JSON: the body ends before the JSON value is complete")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalidf("request body: want %s, got JSON %s", wire.KindOf(typ.Type), typ.Value)
		}
		return invalidf("field %q: want %s, got JSON %s", jsonPath(dst, typ.Field), wire.KindOf(typ.Type), typ.Value)
	case errors.As(err, &inv):
		return fmt.Errorf("decode request body: %w", err)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		if known := jsonFields(dst); known != "" {
			return invalidf("unknown field %s (known fields: %s)", name, known)
		}
		return invalidf("unknown field %s", name)
	}
	return invalidf("invalid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

// jsonFields lists the JSON field names of the struct dst points to,
// including those promoted from embedded structs.
func jsonFields(dst any) string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	return strings.Join(fieldNames(t), ", ")
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			names = append(names, fieldNames(f.Type)...)
			continue
		case name == "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// jsonPath drops the Go names of embedded structs from the field path of
// an encoding/json type error ("SubmitRequest.input" becomes "input").
func jsonPath(dst any, path string) string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return path
	}
	for {
		head, rest, ok := strings.Cut(path, ".")
		if !ok {
			return path
		}
		f, found := t.FieldByName(head)
		if !found || !f.Anonymous || f.Tag.Get("json") != "" {
			return path
		}
		path, t = rest, f.Type
	}
}

// decodeSubmit decodes and validates the body of a submit request. On
// success the request passes SubmitRequest.Validate.
func decodeSubmit(w http.ResponseWriter, r *http.Request, limit int64) (coderclaw.SubmitRequest, error) {
	var body submitBody
	if err := decodeJSON(w, r, limit, &body); err != nil {
		return coderclaw.SubmitRequest{}, err
	}
	req, err := body.request()
	if err != nil {
		return coderclaw.SubmitRequest{}, err
	}
	if err := req.Validate(); err != nil {
		return coderclaw.SubmitRequest{}, err
	}
	return req, nil
}

// respondRequest is the body of POST /api/runtime/tasks/{id}/respond.
type respondRequest struct {
	Input string `json:"input"`
}

// filterParams lists the query parameters of GET /api/runtime/tasks.
const filterParams = "status, agent_id, session_id, project, parent_id, created_after, created_before, limit, cursor"

func isFilterParam(k string) bool {
	switch k {
	case "status", "agent_id", "session_id", "project", "parent_id",
		"created_after", "created_before", "limit", "cursor":
		return true
	}
	return false
}

// parseFilter reads a task filter from the query of GET /api/runtime/tasks.
// Statuses may repeat or be comma-separated; an unknown parameter is an
// error.
func parseFilter(q url.Values) (coderclaw.Filter, error) {
	for k := range q {
		if !isFilterParam(k) {
			return coderclaw.Filter{}, invalidf("unknown query parameter %q (known: %s)", k, filterParams)
		}
	}
	var f coderclaw.Filter
	for _, v := range q["status"] {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			st, err := coderclaw.ParseStatus(s)
			if err != nil {
				return coderclaw.Filter{}, invalidf("status: %s", coderclaw.ErrorMessage(err))
			}
			f.Status = append(f.Status, st)
		}
	}
	f.AgentID = q.Get("agent_id")
	f.SessionID = q.Get("session_id")
	f.Project = q.Get("project")
	f.ParentID = q.Get("parent_id")
	f.Cursor = q.Get("cursor")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return coderclaw.Filter{}, invalidf("%s: %q is not an RFC 3339 time such as 2006-01-02T15:04:05Z", p.name, v)
		}
		*p.dst = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return coderclaw.Filter{}, invalidf("limit: %q is not an integer", v)
		}
		f.Limit = n
	}
	if err := f.Validate(); err != nil {
		return coderclaw.Filter{}, err
	}
	return f, nil
}

// encodeFilter is the inverse of parseFilter, used by the Client.
func encodeFilter(f coderclaw.Filter) url.Values {
	q := url.Values{}
	for _, s := range f.Status {
		q.Add("status", string(s))
	}
	for _, p := range []struct{ name, v string }{
		{"agent_id", f.AgentID}, {"session_id", f.SessionID}, {"project", f.Project},
		{"parent_id", f.ParentID}, {"cursor", f.Cursor},
	} {
		if p.v != "" {
			q.Set(p.name, p.v)
		}
	}
	if !f.CreatedAfter.IsZero() {
		q.Set("created_after", f.CreatedAfter.Format(time.RFC3339Nano))
	}
	if !f.CreatedBefore.IsZero() {
		q.Set("created_before", f.CreatedBefore.Format(time.RFC3339Nano))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// parseAfter reads the position a stream resumes after: the Last-Event-ID
// header, or else the after query parameter, or else zero.
func parseAfter(r *http.Request) (int64, error) {
	name, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		name, v = "after", r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, invalidf("%s: %q is not a non-negative event sequence number", name, v)
	}
	return n, nil
}
