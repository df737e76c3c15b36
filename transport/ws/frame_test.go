package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
)

// FuzzFrame checks that decoding a client frame never panics, that a
// failure is an invalid error with a message and a well-formed (or null)
// id, and that a success is a well-formed request: a known method, params
// of that method's type that validate, and an encoding that decodes to
// the same request.
func FuzzFrame(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"method":"submit","params":{"input":"echo hi","agent_id":"shell"}}`,
		`{"id":"a","method":"submit","params":{"description":"d","input":"x","agent_id":"noop","parent_id":"p","session_id":"s","project":"p","repo":"/r","labels":{"a":"b"},"metadata":{"m":"1"},"priority":-3,"max_attempts":2}}`,
		`{"id":2,"method":"task","params":{"task_id":"0190a0f8-0000-7000-8000-000000000000"}}`,
		`{"id":3,"method":"tasks"}`,
		`{"id":3,"method":"tasks","params":{"status":["running","pending"],"agent_id":"shell","created_after":"2026-01-02T03:04:05Z","limit":7,"cursor":"c"}}`,
		`{"id":4,"method":"events","params":{"task_id":"t"}}`,
		`{"id":5,"method":"cancel","params":{"task_id":"t"}}`,
		`{"id":6,"method":"respond","params":{"task_id":"t","input":"yes"}}`,
		`{"id":7,"method":"agents"}`, `{"id":8,"method":"skills","params":{}}`, `{"id":9,"method":"status","params":null}`,
		`{"id":10,"method":"subscribe","params":{"task_id":"t","after_seq":3}}`,
		`{"id":11,"method":"unsubscribe","params":{"subscription":10}}`,
		`{"id":12,"method":"unsubscribe","params":{"subscription":"s"}}`,
		`{"id":13,"method":"frobnicate"}`,
		`{"id":14,"method":"task","params":{"task_id":5}}`,
		`{"id":15,"method":"submit","params":{"input":"x","agent_id":"y","bogus":1}}`,
		`{"id":16,"method":"subscribe","params":{"task_id":"t","after_seq":-1}}`,
		`{"id":17,"METHOD":"status"}`, `{"id":18,"method":"status","id":19}`,
		`{"id":1.5,"method":"status"}`, `{"id":-1,"method":"status"}`, `{"id":"","method":"status"}`,
		`{"id":null,"method":"status"}`, `{"method":"status"}`, `{"id":1e3,"method":"status"}`,
		`{"id":9007199254740992,"method":"status"}`,
		`{"id":20,"method":"task","params":{"task_id":null}}`,
		`{"id":21,"method":"tasks","params":{"status":["bogus"]}}`,
		`{"id":22,"method":"submit","params":{"input":"x","agent_id":"y","priority":1e400}}`,
		`{"id":23,"method":"status"} {}`, `{"id":24,"method":"status"`, `[1,2]`, `null`, ``, `{`, "\xff",
		`{"id":"\u003c","method":"status"}`, `{"id":25,"method":"submit","params":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data)
		if err != nil {
			var fe *frameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *frameError", err, err)
			}
			if fe.Err.Code != coderclaw.CodeInvalid || fe.Err.Message == "" {
				t.Fatalf("error %+v: want code invalid with a message", fe.Err)
			}
			if fe.ID != "" {
				if _, err := parseID(json.RawMessage(fe.ID), "id"); err != nil {
					t.Fatalf("error frame id %s is not well formed: %v", fe.ID, err)
				}
			}
			if _, err := json.Marshal(errorFrame{ID: fe.ID, Error: fe.Err}); err != nil {
				t.Fatalf("encode error frame: %v", err)
			}
			return
		}
		wantWellFormed(t, req)
		b, err := encodeRequest(req)
		if err != nil {
			t.Fatalf("encode %+v: %v", req, err)
		}
		again, err := decodeRequest(b)
		if err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		b2, err := encodeRequest(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the request:\n%s\n%s", b, b2)
		}
	})
}

// wantWellFormed checks what a successful decode promises.
func wantWellFormed(t *testing.T, req request) {
	t.Helper()
	if req.ID == "" {
		t.Fatalf("decoded request without an id: %+v", req)
	}
	if again, err := parseID(json.RawMessage(req.ID), "id"); err != nil || again != req.ID {
		t.Fatalf("id %s is not canonical: %s, %v", req.ID, again, err)
	}
	var want reflect.Type
	switch req.Method {
	case methodSubmit:
		want = reflect.TypeFor[coderclaw.SubmitRequest]()
		if err := req.Params.(coderclaw.SubmitRequest).Validate(); err != nil {
			t.Fatalf("decoded submit does not validate: %v", err)
		}
	case methodTasks:
		want = reflect.TypeFor[coderclaw.Filter]()
		if err := req.Params.(coderclaw.Filter).Validate(); err != nil {
			t.Fatalf("decoded filter does not validate: %v", err)
		}
	case methodTask, methodEvents, methodCancel:
		want = reflect.TypeFor[taskParams]()
	case methodRespond:
		want = reflect.TypeFor[respondParams]()
	case methodSubscribe:
		want = reflect.TypeFor[subscribeParams]()
		if p := req.Params.(subscribeParams); p.AfterSeq < 0 {
			t.Fatalf("negative after_seq %d", p.AfterSeq)
		}
	case methodUnsubscribe:
		want = reflect.TypeFor[unsubscribeParams]()
		if p := req.Params.(unsubscribeParams); p.Subscription == "" {
			t.Fatalf("unsubscribe without a subscription")
		}
	case methodAgents, methodSkills, methodStatus:
		if req.Params != nil {
			t.Fatalf("%s with params %+v", req.Method, req.Params)
		}
		return
	default:
		t.Fatalf("decoded unknown method %q", req.Method)
	}
	if got := reflect.TypeOf(req.Params); got != want {
		t.Fatalf("%s params of type %v, want %v", req.Method, got, want)
	}
}

// FuzzReply checks that decoding a server frame never panics and that a
// success has exactly one well-formed form.
func FuzzReply(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"result":{"id":"t"}}`, `{"id":"a","result":{}}`,
		`{"id":null,"error":{"code":"invalid","message":"m"}}`,
		`{"id":2,"error":{"code":"bogus","message":"m"}}`,
		`{"id":3,"event":{"task_id":"t","seq":1,"type":"status","status":"pending"}}`,
		`{"id":3,"event":{"task_id":"t","seq":0}}`,
		`{"id":4,"end":true}`, `{"id":4,"end":false}`,
		`{"id":5,"lagged":true,"last_seq":7}`, `{"id":5,"lagged":true}`,
		`{"id":6,"result":1,"end":true}`, `{"id":7}`, `{"result":1}`, `{"id":null,"result":1}`,
		`{"id":8,"end":true,"last_seq":1}`, `{"id":9,"extra":1,"end":true}`, `[`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeReply(data)
		if err != nil {
			if coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
				t.Fatalf("error %v: want code invalid", err)
			}
			return
		}
		switch r.Kind {
		case replyResult:
			if r.ID == "" || !json.Valid(r.Result) {
				t.Fatalf("result %+v", r)
			}
		case replyError:
			if r.Err == nil || !r.Err.Code.Valid() || r.Err.Message == "" {
				t.Fatalf("error %+v", r)
			}
		case replyEvent:
			if r.ID == "" || r.Event.Seq < 1 {
				t.Fatalf("event %+v", r)
			}
		case replyEnd:
			if r.ID == "" {
				t.Fatalf("end %+v", r)
			}
		case replyLagged:
			if r.ID == "" || r.LastSeq < 0 {
				t.Fatalf("lagged %+v", r)
			}
		default:
			t.Fatalf("kind %d", r.Kind)
		}
	})
}

// TestDecodeRequestErrors checks that refusals name the problem and keep
// the id where it could be read.
func TestDecodeRequestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		frame, id, msg string
	}{
		{`{"id":1,"method":"status"`, "", "malformed JSON"},
		{`{"id":1 "method":"status"}`, "", "line 1, column 9"},
		{"{\"id\":1,\n\"method\":}", "", "line 2, column 10"},
		{`[]`, "", "want a JSON object, got JSON array"},
		{``, "", "frame is empty"},
		{"{\"id\":\"\xff\"}", "", "not valid UTF-8"},
		{`{"method":"status"}`, "", "id: missing"},
		{`{"id":true,"method":"status"}`, "", "want a string or a non-negative integer, got JSON boolean"},
		{`{"id":-3,"method":"status"}`, "", "got JSON number -3"},
		{`{"id":1.5,"method":"status"}`, "", "got JSON number 1.5"},
		{`{"id":9007199254740992,"method":"status"}`, "", "larger than"},
		{`{"id":"","method":"status"}`, "", "1 to 128 bytes"},
		{`{"id":1,"id":2,"method":"status"}`, "", `field "id" appears twice`},
		{`{"id":1,"method":"status"} x`, "", "unexpected data after the object"},
		{`{"id":1,"Method":"status"}`, "1", `unknown field "Method"`},
		{`{"id":"x","method":"frobnicate"}`, `"x"`, `unknown method "frobnicate"`},
		{`{"id":2,"method":7}`, "2", "method: want a string"},
		{`{"id":2}`, "2", "method: missing"},
		{`{"id":3,"method":"task"}`, "3", "params: missing"},
		{`{"id":3,"method":"task","params":[]}`, "3", "params: want a JSON object, got JSON array"},
		{`{"id":4,"method":"task","params":{"task_id":5}}`, "4", `params.task_id: want a string, got JSON number`},
		{`{"id":4,"method":"task","params":{"task_id":null}}`, "4", `params.task_id: null`},
		{`{"id":4,"method":"task","params":{"TASK_ID":"x"}}`, "4", `unknown field "TASK_ID" (known fields: task_id)`},
		{`{"id":5,"method":"submit","params":{"input":"x","agent_id":"y","bogus":1}}`, "5", `unknown field "bogus"`},
		{`{"id":5,"method":"submit","params":{"input":"","agent_id":"y"}}`, "5", "input: must not be empty"},
		{`{"id":5,"method":"submit","params":{"input":"x","agent_id":"y","labels":{"a":1}}}`, "5", "params.labels: want a string, got JSON number"},
		{`{"id":6,"method":"subscribe","params":{"task_id":"t","after_seq":-1}}`, "6", "after_seq: -1 is negative"},
		{`{"id":6,"method":"subscribe","params":{"task_id":"t","after_seq":"1"}}`, "6", "params.after_seq: want an integer, got JSON string"},
		{`{"id":7,"method":"tasks","params":{"status":["bogus"]}}`, "7", `unknown status "bogus"`},
		{`{"id":7,"method":"tasks","params":{"created_after":"yesterday"}}`, "7", "params"},
		{`{"id":8,"method":"status","params":{"x":1}}`, "8", "status takes no parameters"},
		{`{"id":9,"method":"unsubscribe","params":{}}`, "9", "subscription: missing"},
		{`{"id":9,"method":"unsubscribe","params":{"subscription":{}}}`, "9", "params.subscription: want a string or a non-negative integer"},
	} {
		_, err := decodeRequest([]byte(tc.frame))
		var fe *frameError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v, want a *frameError", tc.frame, err)
			continue
		}
		if string(fe.ID) != tc.id || fe.Err.Code != coderclaw.CodeInvalid || !strings.Contains(fe.Err.Message, tc.msg) {
			t.Errorf("%s:\n got id %q code %s %q\nwant id %q code invalid, message containing %q", tc.frame, fe.ID, fe.Err.Code, fe.Err.Message, tc.id, tc.msg)
		}
	}
}

// TestDecodeRequest checks successful decodes.
func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		frame string
		want  request
	}{
		{`{"id":1,"method":"status"}`, request{ID: "1", Method: "status"}},
		{` { "method" : "agents" , "params" : null, "id" : "a\u00e9" } `, request{ID: `"aé"`, Method: "agents"}},
		{`{"id":0,"method":"tasks"}`, request{ID: "0", Method: "tasks", Params: coderclaw.Filter{}}},
		{`{"id":2,"method":"subscribe","params":{"task_id":"t","after_seq":4}}`,
			request{ID: "2", Method: "subscribe", Params: subscribeParams{TaskID: "t", AfterSeq: 4}}},
		{`{"id":3,"method":"unsubscribe","params":{"subscription":"x"}}`,
			request{ID: "3", Method: "unsubscribe", Params: unsubscribeParams{Subscription: `"x"`}}},
		{`{"id":4,"method":"respond","params":{"task_id":"t","input":"yes"}}`,
			request{ID: "4", Method: "respond", Params: respondParams{TaskID: "t", Input: "yes"}}},
	} {
		got, err := decodeRequest([]byte(tc.frame))
		if err != nil {
			t.Errorf("%s: %v", tc.frame, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.frame, got, tc.want)
		}
	}
}
