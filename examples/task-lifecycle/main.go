// Command task-lifecycle walks a task through its lifecycle on a CoderClaw
// node: it queries state, lists agents and skills, answers a question the
// task asks (waiting -> running), cancels a second task, and prints the
// full event history. It mirrors the quick start's "Explore Task Lifecycle".
//
// Run a node first (coderclaw up), then:
//
//	go run ./examples/task-lifecycle
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/coderclaw/coderclaw"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
)

func main() {
	node := flag.String("node", "http://127.0.0.1:7420", "node URL")
	flag.Parse()
	ctx := context.Background()
	rt, err := httptransport.NewClient(*node)
	if err != nil {
		log.Fatal(err)
	}

	agents, err := rt.Agents(ctx)
	check(err)
	for _, a := range agents {
		fmt.Printf("agent %-8s available=%v %s\n", a.ID, a.Available, a.Reason)
	}
	skills, err := rt.Skills(ctx)
	check(err)
	fmt.Printf("%d skills\n", len(skills))

	// A task that asks a question: the shell agent turns "::ask::" lines
	// into questions and writes the answer to the command's stdin.
	task, err := rt.Submit(ctx, coderclaw.SubmitRequest{
		AgentID: "shell",
		Input:   `echo "::ask::Deploy to which environment?"; read env; echo "deploying to $env"`,
	})
	check(err)
	state, err := rt.Task(ctx, task.ID)
	check(err)
	fmt.Printf("Current status: %s\n", state.Status)

	for ev, err := range rt.Stream(ctx, task.ID, 0) {
		check(err)
		fmt.Printf("#%d %s %s %s\n", ev.Seq, ev.Type, ev.Status, ev.Message)
		if ev.Type == coderclaw.EventStatus && ev.Status == coderclaw.StatusWaiting {
			_, err := rt.Respond(ctx, task.ID, "staging")
			check(err)
		}
	}
	final, err := rt.Task(ctx, task.ID)
	check(err)
	fmt.Printf("Final: %s, output %q\n", final.Status, final.Output)

	// Cancel a long task; cancelling it again is a conflict.
	long, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: "sleep 600"})
	check(err)
	cancelled, err := rt.Cancel(ctx, long.ID)
	check(err)
	fmt.Printf("Cancelled: %s\n", cancelled.Status)
	if _, err := rt.Cancel(ctx, long.ID); coderclaw.ErrorCode(err) == coderclaw.CodeConflict {
		fmt.Printf("Second cancel refused: %s\n", coderclaw.ErrorMessage(err))
	}

	events, err := rt.Events(ctx, task.ID)
	check(err)
	fmt.Printf("History of %s: %d events\n", task.ID, len(events))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
