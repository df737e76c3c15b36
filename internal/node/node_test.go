package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/node"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, rc config.Runtime, token string) *node.Node {
	t.Helper()
	rc.Transport.Addr = "127.0.0.1:0"
	n, err := node.Start(context.Background(), node.Config{Home: t.TempDir(), Runtime: rc, Token: token})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n
}

func client(t *testing.T, n *node.Node, opts ...httptransport.ClientOption) *httptransport.Client {
	t.Helper()
	c, err := httptransport.NewClient("http://"+n.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestLocalNodeRunsTasks(t *testing.T) {
	n := start(t, config.Defaults(), "")
	c := client(t, n)
	task, err := c.Submit(context.Background(), coderclaw.SubmitRequest{AgentID: "shell", Input: "echo up"})
	if err != nil {
		t.Fatal(err)
	}
	var last coderclaw.Event
	for ev, err := range c.Stream(context.Background(), task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	if last.Status != coderclaw.StatusCompleted {
		t.Errorf("last event %+v", last)
	}
}

func TestRemoteModeRequiresToken(t *testing.T) {
	rc := config.Defaults()
	rc.Mode, rc.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
	_, err := node.Start(context.Background(), node.Config{Home: t.TempDir(), Runtime: rc})
	if err == nil || !strings.Contains(err.Error(), "CODERCLAW_TOKEN") {
		t.Fatalf("remote node without a token: %v", err)
	}
	n := start(t, rc, "let-me-in")
	ctx := context.Background()
	if _, err := client(t, n).Status(ctx); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("no token: %v", err)
	}
	if _, err := client(t, n, httptransport.WithToken("guess")).Tasks(ctx, coderclaw.Filter{}); coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
		t.Errorf("wrong token: %v", err)
	}
	for _, err := range client(t, n).Stream(ctx, "0190a0f8-0000-7000-8000-000000000000", 0) {
		if coderclaw.ErrorCode(err) != coderclaw.CodeUnauthenticated {
			t.Errorf("stream without a token: %v", err)
		}
	}
	st, err := client(t, n, httptransport.WithToken("let-me-in")).Status(ctx)
	if err != nil || st.Mode != "remote-enabled" {
		t.Errorf("right token: %+v %v", st, err)
	}
}
