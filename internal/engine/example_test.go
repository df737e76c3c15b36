package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/agent/shell"
	"github.com/coderclaw/coderclaw/internal/engine"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// Example runs a shell task on an in-process runtime and follows it to the
// end.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coderclaw-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "coderclaw.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	agents := agent.NewRegistry()
	if err := agents.Register(shell.Agent(), &shell.Executor{}); err != nil {
		log.Fatal(err)
	}
	e, err := engine.New(engine.Config{Store: st, Agents: agents, WorkDir: filepath.Join(dir, "work")})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer e.Stop(ctx)

	var rt coderclaw.Runtime = e
	task, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: "echo hello from $CODERCLAW_AGENT"})
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range rt.Stream(ctx, task.ID, 0) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Type {
		case coderclaw.EventStatus:
			fmt.Println("status", ev.Status)
		case coderclaw.EventLog:
			fmt.Println("log", ev.Message)
		}
	}
	// Output:
	// status pending
	// status planning
	// status running
	// log hello from shell
	// status completed
}
