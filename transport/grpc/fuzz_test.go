package grpc

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coderclaw/coderclaw"
	pb "github.com/coderclaw/coderclaw/gen/coderclaw/v1"
)

// seedRequests are the SubmitRequests whose wire forms seed the fuzzer,
// besides the committed corpus under testdata/fuzz/FuzzSubmitRequest.
func seedRequests() []coderclaw.SubmitRequest {
	return []coderclaw.SubmitRequest{
		{},
		{AgentID: "noop", Input: "x"},
		{Description: "d", Input: "echo hi", AgentID: "shell", ParentID: "0190a0f8-0000-7000-8000-000000000000",
			SessionID: "s", Project: "p", Repo: "https://example.com/r.git", Labels: map[string]string{"gpu": "yes", "os": "linux"},
			Metadata: map[string]string{"k": "v"}, Priority: -1000, MaxAttempts: 3},
		{AgentID: "noop", Input: " \n", Priority: 1 << 20, MaxAttempts: -1},
		{AgentID: "noop", Input: "x", Labels: map[string]string{"": "empty key"}},
	}
}

// FuzzSubmitRequest decodes arbitrary bytes as a SubmitRequest the way the
// handler does (protobuf, then the root type, then the runtime's
// validation): it never panics, validation fails only with code invalid,
// and whatever decodes survives a round trip through the wire form.
func FuzzSubmitRequest(f *testing.F) {
	for _, r := range seedRequests() {
		b, err := proto.Marshal(submitToProto(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x01, 0xff}) // input: invalid UTF-8
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.SubmitRequest
		if err := proto.Unmarshal(b, &m); err != nil {
			return // connect answers InvalidArgument (TestMalformedRequest)
		}
		req := submitFromProto(&m)
		if err := req.Validate(); err != nil && coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
			t.Fatalf("validate %+v: %v is not invalid", req, err)
		}
		wire, err := proto.Marshal(submitToProto(req))
		if err != nil {
			t.Fatalf("marshal %+v: %v", req, err)
		}
		var back pb.SubmitRequest
		if err := proto.Unmarshal(wire, &back); err != nil {
			t.Fatalf("unmarshal what was marshalled: %v", err)
		}
		if got := submitFromProto(&back); !reflect.DeepEqual(got, req) {
			t.Fatalf("round trip changed the request:\n got %+v\nwant %+v", got, req)
		}
	})
}

// FuzzListTasksRequest does the same for the task filter.
func FuzzListTasksRequest(f *testing.F) {
	for _, r := range []*pb.ListTasksRequest{
		{}, {Status: []string{"running", "bogus"}, Limit: 1001, Cursor: "c"},
		filterToProto(coderclaw.Filter{AgentID: "a", SessionID: "s", Project: "p", ParentID: "x", Limit: 5}),
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x32, 0x04, 0x10, 0xff, 0xff, 0x0f}) // created_after with nanos out of range
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.ListTasksRequest
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		filter, err := filterFromProto(&m)
		if err == nil {
			err = filter.Validate()
		}
		if err != nil && coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
			t.Fatalf("filter %+v: %v is not invalid", &m, err)
		}
	})
}
