package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/agent/cli/clifake"
)

// TestMain plays a fake CLI when the test binary was started as one (see
// clifake), and otherwise runs the tests, failing if a goroutine outlives
// them.
func TestMain(m *testing.M) {
	if clifake.Active() {
		os.Exit(clifake.Main())
	}
	goleak.VerifyTestMain(m)
}

// testRun is an agent.Run that keeps what an executor reports.
type testRun struct {
	task coderclaw.Task
	dir  string
	// onLog, when set, sees every log line as it is reported.
	onLog func(stream, line string)

	mu     sync.Mutex
	logs   []logLine
	events []recorded
}

type logLine struct{ stream, line string }

type recorded struct {
	typ  coderclaw.EventType
	msg  string
	data any
}

var _ agent.Run = (*testRun)(nil)

func newTestRun(t *testing.T, input string) *testRun {
	return &testRun{task: coderclaw.Task{ID: "t1", Input: input, AgentID: "cli", Attempt: 1}, dir: t.TempDir()}
}

func (r *testRun) Task() coderclaw.Task { return r.task }
func (r *testRun) Dir() string          { return r.dir }
func (r *testRun) Progress(int)         {}

func (r *testRun) Log(stream, line string) {
	r.mu.Lock()
	r.logs = append(r.logs, logLine{stream, line})
	f := r.onLog
	r.mu.Unlock()
	if f != nil {
		f(stream, line)
	}
}

func (r *testRun) Ask(context.Context, string) (string, error) {
	return "", errors.New("testRun: no human here")
}

func (r *testRun) Record(typ coderclaw.EventType, message string, data any) {
	// Every payload must survive the store's JSON encoding.
	if _, err := json.Marshal(data); err != nil {
		panic("payload does not marshal: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recorded{typ, message, data})
}

func (r *testRun) History(context.Context) ([]coderclaw.Event, error) { return nil, nil }

// logged reports whether a line of stream contains s.
func (r *testRun) logged(stream, s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if l.stream == stream && strings.Contains(l.line, s) {
			return true
		}
	}
	return false
}

func (r *testRun) tools() []coderclaw.ToolCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []coderclaw.ToolCall
	for _, e := range r.events {
		if e.typ == coderclaw.EventTool {
			out = append(out, e.data.(coderclaw.ToolCall))
		}
	}
	return out
}

// usage returns the last usage recorded and how many were.
func (r *testRun) usage() (coderclaw.Usage, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		last coderclaw.Usage
		n    int
	)
	for _, e := range r.events {
		if e.typ == coderclaw.EventUsage {
			last = e.data.(coderclaw.Usage)
			n++
		}
	}
	return last, n
}

func (r *testRun) dump(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		t.Logf("log %s: %s", l.stream, clip(l.line, 200))
	}
	for _, e := range r.events {
		t.Logf("event %s: %s %+v", e.typ, e.msg, e.data)
	}
}
