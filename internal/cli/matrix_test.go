package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

// TestPermissionMatrix runs every API operation as every built-in role over
// every transport against a real node and checks allow or deny against the
// roles' permissions: admin everything; developer all but nothing denied;
// readonly reads and status; ci submits, reads and answers, but neither
// cancels nor reads the node's status (config:read).
func TestPermissionMatrix(t *testing.T) {
	home, base := remoteNode(t, 0)
	env := map[string]string{"CODERCLAW_NODE": base}
	roles := []string{"admin", "developer", "readonly", "ci"}
	tokens := map[string]string{}
	for _, role := range roles {
		user := "u-" + role
		if r := runEnv(t, env, "user", "add", user, "--role", role, "--home", home); r.code != 0 {
			t.Fatal(r.stderr)
		}
		tokens[role] = strings.TrimSpace(runEnv(t, env, "token", "create", "--user", user, "--home", home).stdout)
	}
	ctx := context.Background()
	admin, err := httptransport.NewClient(base, httptransport.WithToken(tokens["admin"]))
	if err != nil {
		t.Fatal(err)
	}
	done, err := admin.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range admin.Stream(ctx, done.ID, 0) {
	}

	allowed := map[string][]string{
		"submit":  {"admin", "developer", "ci"},
		"task":    roles,
		"tasks":   roles,
		"events":  roles,
		"stream":  roles,
		"cancel":  {"admin", "developer"},
		"respond": {"admin", "developer", "ci"},
		"agents":  roles,
		"skills":  roles,
		"status":  {"admin", "developer", "readonly"},
	}
	ops := map[string]func(rt coderclaw.Runtime) error{
		"submit": func(rt coderclaw.Runtime) error {
			_, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "m"})
			return err
		},
		"task":   func(rt coderclaw.Runtime) error { _, err := rt.Task(ctx, done.ID); return err },
		"tasks":  func(rt coderclaw.Runtime) error { _, err := rt.Tasks(ctx, coderclaw.Filter{}); return err },
		"events": func(rt coderclaw.Runtime) error { _, err := rt.Events(ctx, done.ID); return err },
		"stream": func(rt coderclaw.Runtime) error {
			for _, err := range rt.Stream(ctx, done.ID, 0) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		// A completed task can be neither cancelled nor answered: an
		// allowed caller gets conflict, a denied one forbidden.
		"cancel":  func(rt coderclaw.Runtime) error { _, err := rt.Cancel(ctx, done.ID); return err },
		"respond": func(rt coderclaw.Runtime) error { _, err := rt.Respond(ctx, done.ID, "y"); return err },
		"agents":  func(rt coderclaw.Runtime) error { _, err := rt.Agents(ctx); return err },
		"skills":  func(rt coderclaw.Runtime) error { _, err := rt.Skills(ctx); return err },
		"status":  func(rt coderclaw.Runtime) error { _, err := rt.Status(ctx); return err },
	}
	transports := map[string]func(token string) coderclaw.Runtime{
		"http": func(tok string) coderclaw.Runtime {
			c, _ := httptransport.NewClient(base, httptransport.WithToken(tok))
			return c
		},
		"grpc": func(tok string) coderclaw.Runtime {
			c, _ := grpctransport.NewClient(base, grpctransport.WithToken(tok))
			return c
		},
		"ws": func(tok string) coderclaw.Runtime {
			c, err := wstransport.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+wstransport.DefaultPath,
				wstransport.WithHeader(http.Header{"Authorization": {"Bearer " + tok}}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
	for tname, dial := range transports {
		for _, role := range roles {
			rt := dial(tokens[role])
			for op, call := range ops {
				t.Run(fmt.Sprintf("%s/%s/%s", tname, role, op), func(t *testing.T) {
					err := call(rt)
					want := false
					for _, r := range allowed[op] {
						want = want || r == role
					}
					denied := coderclaw.ErrorCode(err) == coderclaw.CodeForbidden
					if want && denied {
						t.Errorf("denied, want allowed: %v", err)
					}
					if !want && !denied {
						t.Errorf("not denied (err %v), want forbidden", err)
					}
					if want && err != nil && coderclaw.ErrorCode(err) != coderclaw.CodeConflict {
						t.Errorf("allowed call failed: %v", err)
					}
				})
			}
		}
	}
}
