package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/cli"
	"github.com/coderclaw/coderclaw/internal/nodetest"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

// node starts a real node on loopback and returns its URL.
func node(t *testing.T) string {
	t.Helper()
	n := nodetest.New(t)
	srv := httptest.NewServer(httptransport.NewHandler(n, httptransport.HandlerOptions{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, url string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
		Getenv: func(k string) string {
			if k == "CODERCLAW_NODE" {
				return url
			}
			return ""
		},
	})
	return result{code, out.String(), errb.String()}
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not JSON (%v):\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v
}

func TestSubmitWaitJSON(t *testing.T) {
	url := node(t)
	r := run(t, url, "submit", "--wait", "--output", "json", "--label", "team=core", "echo", "hello")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	task := decode[coderclaw.Task](t, r)
	if task.Status != coderclaw.StatusCompleted || task.Output != "hello" || task.AgentID != "shell" || task.Labels["team"] != "core" {
		t.Errorf("task %+v", task)
	}

	r = run(t, url, "task", "events", task.ID, "-o", "json")
	evs := decode[[]map[string]any](t, r)
	if len(evs) < 4 {
		t.Fatalf("events %v", evs)
	}
	for i, ev := range evs {
		for _, k := range []string{"seq", "time", "type"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("event %d lacks %q: %v", i, k, ev)
			}
		}
		if ev["seq"].(float64) != float64(i+1) {
			t.Errorf("event %d has seq %v", i, ev["seq"])
		}
	}
	if evs[len(evs)-1]["status"] != "completed" {
		t.Errorf("last event %v", evs[len(evs)-1])
	}

	r = run(t, url, "tasks", "--status", "completed", "--agent", "shell", "-o", "json")
	list := decode[[]coderclaw.Task](t, r)
	if len(list) != 1 || list[0].ID != task.ID {
		t.Errorf("tasks: %+v", list)
	}
}

func TestSubmitWaitExitCodes(t *testing.T) {
	url := node(t)
	r := run(t, url, "submit", "--wait", "exit 4")
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "failed") {
		t.Errorf("failing task: exit %d stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "status failed") {
		t.Errorf("plain event lines missing: %q", r.stdout)
	}
	r = run(t, url, "submit", "-o", "json", "sleep 30")
	task := decode[coderclaw.Task](t, r)
	if r := run(t, url, "task", "cancel", task.ID); r.code != cli.ExitOK {
		t.Fatalf("cancel: exit %d %s", r.code, r.stderr)
	}
	r = run(t, url, "task", "watch", task.ID)
	if r.code != cli.ExitCancelled {
		t.Errorf("watch of a cancelled task: exit %d, want %d", r.code, cli.ExitCancelled)
	}
	r = run(t, url, "task", "cancel", task.ID)
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("second cancel: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestErrors(t *testing.T) {
	url := node(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"submit", "--agent", "nope", "x"}, cli.ExitFailure, `unknown agent "nope"`},
		{[]string{"task", "show", "0190a0f8-0000-7000-8000-000000000000"}, cli.ExitFailure, "not found"},
		{[]string{"submit", "--label", "novalue", "x"}, cli.ExitUsage, "KEY=VALUE"},
		{[]string{"tasks", "--status", "sleeping"}, cli.ExitUsage, "unknown status"},
		{[]string{"frobnicate"}, cli.ExitUsage, "unknown command"},
		{[]string{"status", "--output", "yaml"}, cli.ExitUsage, "--output"},
	}
	for _, c := range cases {
		r := run(t, url, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
	r := run(t, url, "task", "show", "0190a0f8-0000-7000-8000-000000000000", "-o", "json")
	body := decode[map[string]map[string]string](t, r)
	if body["error"]["code"] != "not_found" {
		t.Errorf("json error body %v", body)
	}
}

func TestNoNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	r := run(t, url, "status")
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "no CoderClaw node answers at "+url) {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestAgentsAndStatus(t *testing.T) {
	url := node(t)
	agents := decode[[]coderclaw.Agent](t, run(t, url, "agents", "-o", "json"))
	if len(agents) < 2 {
		t.Errorf("agents %+v", agents)
	}
	st := decode[coderclaw.NodeStatus](t, run(t, url, "status", "-o", "json"))
	if !st.Store.OK || st.Workers == 0 {
		t.Errorf("status %+v", st)
	}
	if r := run(t, url, "status"); r.code != 0 || !strings.Contains(r.stdout, "store:") {
		t.Errorf("text status: %d %q", r.code, r.stdout)
	}
	if r := run(t, url, "skills", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("skills: %d %q", r.code, r.stdout)
	}
}

// TestTransports runs the same commands over every transport the CLI offers.
func TestTransports(t *testing.T) {
	n := nodetest.New(t)
	mux := http.NewServeMux()
	mux.Handle("/", httptransport.NewHandler(n, httptransport.HandlerOptions{}))
	grpctransport.Mount(mux, n, grpctransport.HandlerOptions{})
	ws := wstransport.NewHandler(n, wstransport.HandlerOptions{})
	mux.Handle(wstransport.DefaultPath, ws)
	t.Cleanup(func() { _ = ws.Shutdown(context.Background()) })
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	for _, tr := range []string{"http", "ws", "grpc", "connect", "grpcweb"} {
		r := run(t, srv.URL, "--transport", tr, "submit", "--wait", "-o", "json", "echo", tr)
		if r.code != cli.ExitOK {
			t.Fatalf("%s: exit %d %s", tr, r.code, r.stderr)
		}
		task := decode[coderclaw.Task](t, r)
		if task.Output != tr {
			t.Errorf("%s: output %q", tr, task.Output)
		}
		r = run(t, srv.URL, "--transport", tr, "task", "show", "0190a0f8-0000-7000-8000-000000000000")
		if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "not found") {
			t.Errorf("%s: unknown task: exit %d %q", tr, r.code, r.stderr)
		}
	}
	if r := run(t, srv.URL, "--transport", "carrier-pigeon", "status"); r.code != cli.ExitUsage {
		t.Errorf("unknown transport: exit %d", r.code)
	}
}
