// Command basic-task-submission submits a task to a CoderClaw node and
// streams its updates until it ends, the Go form of the quick start's
// "Try a Simple Task".
//
// Run a node first (coderclaw up), then:
//
//	go run ./examples/basic-task-submission
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/coderclaw/coderclaw"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
)

func main() {
	node := flag.String("node", "http://127.0.0.1:7420", "node URL")
	flag.Parse()
	ctx := context.Background()

	// The client is a coderclaw.Runtime: the same calls work in-process.
	var rt coderclaw.Runtime
	rt, err := httptransport.NewClient(*node)
	if err != nil {
		log.Fatal(err)
	}
	task, err := rt.Submit(ctx, coderclaw.SubmitRequest{
		Description: "Analyze project architecture",
		Input:       "ls -1 | head -5; echo ::progress::50; git log --oneline -3 2>/dev/null || true",
		AgentID:     "shell",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Task submitted: %s\n", task.ID)

	for ev, err := range rt.Stream(ctx, task.ID, 0) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Type {
		case coderclaw.EventStatus:
			fmt.Printf("Status: %s, Progress: %d%%\n", ev.Status, ev.Progress)
		case coderclaw.EventLog:
			fmt.Printf("  | %s\n", ev.Message)
		}
	}
	final, err := rt.Task(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	if final.Status != coderclaw.StatusCompleted {
		fmt.Printf("Task %s: %s\n", final.Status, final.Error)
		os.Exit(1)
	}
}
