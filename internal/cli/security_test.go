package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/cli"
	"github.com/coderclaw/coderclaw/internal/config"
	coderclawnode "github.com/coderclaw/coderclaw/internal/node"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

func runEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

// TestUsersTokensAndAudit: an admin made on the node's machine hands out
// tokens; each user can do what their role allows over the API, and the
// audit log records it, queryable by the user and verifiable by the admin.
func TestUsersTokensAndAudit(t *testing.T) {
	// No identity cache: the revocation below, made by the CLI beside the
	// node, must be refused at once.
	home, url := remoteNode(t, -1)
	local := map[string]string{"CODERCLAW_NODE": url}

	type made struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	tokens := map[string]made{}
	for user, role := range map[string]string{"root": "admin", "alice": "developer", "rita": "readonly"} {
		if r := runEnv(t, local, "user", "add", user, "--role", role, "--home", home); r.code != 0 {
			t.Fatalf("user add %s: %d %s", user, r.code, r.stderr)
		}
		r := runEnv(t, local, "token", "create", "--user", user, "--home", home, "-o", "json")
		if r.code != 0 {
			t.Fatalf("token create: %d %s", r.code, r.stderr)
		}
		tokens[user] = decode[made](t, r)
		if !strings.HasPrefix(tokens[user].Token, "ccw_") {
			t.Fatalf("token %q", tokens[user].Token)
		}
	}
	as := func(user string) map[string]string {
		return map[string]string{"CODERCLAW_NODE": url, "CODERCLAW_TOKEN": tokens[user].Token}
	}

	if r := runEnv(t, local, "status"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "authentication required") {
		t.Errorf("no token: %d %q", r.code, r.stderr)
	}
	if r := runEnv(t, as("alice"), "submit", "--wait", "echo", "hi"); r.code != cli.ExitOK {
		t.Errorf("developer submit: %d %s", r.code, r.stderr)
	}
	if r := runEnv(t, as("rita"), "submit", "echo", "hi"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "task:submit") {
		t.Errorf("readonly submit: %d %q", r.code, r.stderr)
	}
	if r := runEnv(t, as("rita"), "tasks"); r.code != cli.ExitOK {
		t.Errorf("readonly list: %d %s", r.code, r.stderr)
	}

	if r := runEnv(t, as("alice"), "audit"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "admin:all") {
		t.Errorf("developer reading everything: %d %q", r.code, r.stderr)
	}
	r := runEnv(t, as("alice"), "audit", "--user", tokens["alice"].UserID, "--action", "task.submit", "-o", "json")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, `"result": "ok"`) {
		t.Errorf("own activity: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, as("root"), "audit", "--result", "denied", "-o", "json")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, tokens["rita"].UserID) {
		t.Errorf("admin sees the denial: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, tk := range tokens {
		if strings.Contains(r.stdout, tk.Token) {
			t.Errorf("a token appears in the audit log")
		}
	}
	if r := runEnv(t, as("root"), "audit", "verify"); r.code != cli.ExitOK || !strings.Contains(r.stdout, "intact") {
		t.Errorf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}

	tokID := ""
	r = runEnv(t, local, "token", "list", "--user", "alice", "--home", home, "-o", "json")
	for _, tk := range decode[[]map[string]any](t, r) {
		tokID, _ = tk["id"].(string)
	}
	if r := runEnv(t, local, "token", "revoke", tokID, "--home", home); r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	if r := runEnv(t, as("alice"), "tasks"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("revoked token: %d %q", r.code, r.stderr)
	}
}

// TestSessionIsolation: a session sees and acts on its own tasks only, by
// every transport; another session's task is not found.
func TestSessionIsolation(t *testing.T) {
	home, base := remoteNode(t, 0)
	env := map[string]string{"CODERCLAW_NODE": base}
	if r := runEnv(t, env, "user", "add", "dev", "--role", "developer", "--home", home); r.code != 0 {
		t.Fatal(r.stderr)
	}
	session := func() string {
		r := runEnv(t, env, "session", "create", "--user", "dev", "--home", home, "-o", "json")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		return decode[struct {
			Token string `json:"token"`
		}](t, r).Token
	}
	a, b := session(), session()
	ctx := context.Background()
	clientA, err := httptransport.NewClient(base, httptransport.WithToken(a))
	if err != nil {
		t.Fatal(err)
	}
	task, err := clientA.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo '::ask::ok?'; read x"})
	if err != nil {
		t.Fatal(err)
	}
	if task.SessionID == "" {
		t.Fatalf("a session's task carries no session: %+v", task)
	}
	if _, err := clientA.Task(ctx, task.ID); err != nil {
		t.Fatalf("own task: %v", err)
	}
	ws, err := wstransport.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+wstransport.DefaultPath, wstransport.WithHeader(http.Header{"Authorization": {"Bearer " + b}}))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	viaHTTP, _ := httptransport.NewClient(base, httptransport.WithToken(b))
	viaGRPC, _ := grpctransport.NewClient(base, grpctransport.WithToken(b))
	for name, rt := range map[string]coderclaw.Runtime{"http": viaHTTP, "ws": ws, "grpc": viaGRPC} {
		if _, err := rt.Task(ctx, task.ID); coderclaw.ErrorCode(err) != coderclaw.CodeNotFound {
			t.Errorf("%s: read another session's task: %v", name, err)
		}
		if _, err := rt.Events(ctx, task.ID); coderclaw.ErrorCode(err) != coderclaw.CodeNotFound {
			t.Errorf("%s: events of another session's task: %v", name, err)
		}
		for _, err := range rt.Stream(ctx, task.ID, 0) {
			if coderclaw.ErrorCode(err) != coderclaw.CodeNotFound {
				t.Errorf("%s: stream another session's task: %v", name, err)
			}
			break
		}
		if _, err := rt.Cancel(ctx, task.ID); coderclaw.ErrorCode(err) != coderclaw.CodeNotFound {
			t.Errorf("%s: cancel another session's task: %v", name, err)
		}
		if _, err := rt.Respond(ctx, task.ID, "yes"); coderclaw.ErrorCode(err) != coderclaw.CodeNotFound {
			t.Errorf("%s: respond to another session's task: %v", name, err)
		}
		page, err := rt.Tasks(ctx, coderclaw.Filter{})
		if err != nil || len(page.Tasks) != 0 {
			t.Errorf("%s: another session lists %d tasks, %v", name, len(page.Tasks), err)
		}
		page, err = rt.Tasks(ctx, coderclaw.Filter{SessionID: task.SessionID})
		if err != nil || len(page.Tasks) != 0 {
			t.Errorf("%s: another session lists %d tasks by naming the session, %v", name, len(page.Tasks), err)
		}
	}
	if got, err := clientA.Task(ctx, task.ID); err != nil || got.Status.Terminal() {
		t.Errorf("the task was touched: %+v %v", got, err)
	}
	if _, err := clientA.Cancel(ctx, task.ID); err != nil {
		t.Errorf("own cancel: %v", err)
	}

	// Children: another session cannot attach to A's task, and A's view
	// of its task lists only its own session's children.
	if _, err := viaHTTP.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "x", ParentID: task.ID}); coderclaw.ErrorCode(err) != coderclaw.CodeInvalid {
		t.Errorf("child of another session's task: %v", err)
	}
	if r := runEnv(t, env, "user", "add", "root", "--role", "admin", "--home", home); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rootTok := strings.TrimSpace(runEnv(t, env, "token", "create", "--user", "root", "--home", home).stdout)
	admin, _ := httptransport.NewClient(base, httptransport.WithToken(rootTok))
	if _, err := admin.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "admin's child", ParentID: task.ID}); err != nil {
		t.Fatal(err)
	}
	own, err := clientA.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "own child", ParentID: task.ID})
	if err != nil {
		t.Fatal(err)
	}
	view, err := clientA.Task(ctx, task.ID)
	if err != nil || len(view.Children) != 1 || view.Children[0].ID != own.ID {
		t.Errorf("A sees children %+v, %v; want only %s", view.Children, err, own.ID)
	}
	if all, err := admin.Task(ctx, task.ID); err != nil || len(all.Children) != 2 {
		t.Errorf("admin sees %d children, %v", len(all.Children), err)
	}
}

// TestSessionRoutes: the coderClawLink session routes create and read
// sessions for the caller (or anyone, for an admin).
func TestSessionRoutes(t *testing.T) {
	home, base := remoteNode(t, 0)
	env := map[string]string{"CODERCLAW_NODE": base}
	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		if r := runEnv(t, env, "user", "add", u, "--role", "developer", "--home", home); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := runEnv(t, env, "token", "create", "--user", u, "--home", home)
		tokens[u] = strings.TrimSpace(r.stdout)
	}
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, s := call("POST", "/api/runtime/sessions", tokens["alice"], `{"user_id":"alice"}`)
	tok, _ := s["token"].(string)
	if code != 201 || s["session_id"] == nil || !strings.HasPrefix(tok, "ccs_") {
		t.Fatalf("create own session: %d %v", code, s)
	}
	if code, _ := call("POST", "/api/runtime/sessions", tokens["alice"], `{"user_id":"bob"}`); code != 403 {
		t.Errorf("session for another user: %d", code)
	}
	id, _ := s["session_id"].(string)
	if code, got := call("GET", "/api/runtime/sessions/"+id, tokens["alice"], ""); code != 200 || got["token"] != nil {
		t.Errorf("read own session: %d %v", code, got)
	}
	if code, _ := call("GET", "/api/runtime/sessions/"+id, tokens["bob"], ""); code != 404 {
		t.Errorf("read another's session: %d", code)
	}
	if code, _ := call("GET", "/api/runtime/status", tok, ""); code != 200 {
		t.Errorf("the session token does not authenticate: %d", code)
	}
}

// remoteNode starts a real remote-enabled node on loopback with a fresh
// home and returns the home and the node's URL; it stops with the test.
// cacheTTL is the identity cache (0: the node's default, <0: none).
func remoteNode(t *testing.T, cacheTTL time.Duration) (home, base string) {
	t.Helper()
	home = t.TempDir()
	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	rc.Transport.Addr = "127.0.0.1:0"
	n, err := coderclawnode.Start(context.Background(), coderclawnode.Config{Home: home, Runtime: rc, IdentityCacheTTL: cacheTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return home, "http://" + n.Addr()
}
