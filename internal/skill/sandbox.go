package skill

import (
	"context"
	"errors"
	"os/exec"
)

// NoSandbox is the Sandbox of a node where none is configured or none is
// available: commands run as the node's user with its environment, in the
// workspace directory, confined by nothing but the policy that let the
// skill run. Its zero value is ready to use.
type NoSandbox struct{}

var _ Sandbox = NoSandbox{}

// Command implements Sandbox with a plain exec.CommandContext in dir.
func (NoSandbox) Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to run")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	return cmd, nil
}

// Kind implements Sandbox: "none".
func (NoSandbox) Kind() string { return "none" }
