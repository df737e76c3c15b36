package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// TestCoderClawLinkDialect submits the way the coderClawLink portal's
// clients do and reads the fields they read.
func TestCoderClawLinkDialect(t *testing.T) {
	base, _ := serve(t, NewHandler(nodetest.New(t), HandlerOptions{}))
	hc := rawClient(t)
	post := func(body string) *http.Response {
		t.Helper()
		resp, err := hc.Post(base+"/api/runtime/tasks/submit", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post(`{"agent_type":"shell","prompt":"echo hi","session_id":"s1","context":{"project":"my-app","depth":3}}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	id, _ := got["task_id"].(string)
	if id == "" || id != got["id"] || got["state"] != got["status"] || got["agent_id"] != "shell" ||
		got["input"] != "echo hi" || got["project"] != "my-app" {
		t.Fatalf("response %v", got)
	}
	meta, _ := got["metadata"].(map[string]any)
	if meta["depth"] != "3" || meta["project"] != "my-app" {
		t.Errorf("context not kept as metadata: %v", got["metadata"])
	}

	state, err := hc.Get(base + "/api/runtime/tasks/" + id + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer state.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(state.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st["task_id"] != id || st["state"] == nil || st["state"] != st["status"] {
		t.Errorf("state response %v", st)
	}

	// The dialects must agree when both are given.
	bad := post(`{"agent_type":"shell","agent_id":"noop","prompt":"x"}`)
	e := wantErrorBody(t, bad, http.StatusBadRequest, coderclaw.CodeInvalid)
	if !strings.Contains(e.Message, "agent_id and agent_type disagree") {
		t.Errorf("message %q", e.Message)
	}
	bad = post(`{"agent_id":"shell","input":"a","prompt":"b"}`)
	wantErrorBody(t, bad, http.StatusBadRequest, coderclaw.CodeInvalid)

	sess, err := hc.Post(base+"/api/runtime/sessions", "application/json", strings.NewReader(`{"user_id":"u","device_id":"d"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantErrorBody(t, sess, http.StatusNotImplemented, coderclaw.CodeUnavailable)
}
