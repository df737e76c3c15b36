// Command coderclaw is the CoderClaw node and its command line.
package main

import (
	"context"
	"os"

	"golang.org/x/term"

	"github.com/coderclaw/coderclaw/internal/cli"
	"github.com/coderclaw/coderclaw/internal/workspace"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// A sandboxed command re-executes this binary to confine itself with
	// Landlock before it runs; that never returns.
	if workspace.SandboxMain() {
		return
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: func() bool { return term.IsTerminal(int(os.Stdout.Fd())) },
		Version:    version,
	}))
}
