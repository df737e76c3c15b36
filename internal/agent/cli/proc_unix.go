//go:build unix

package cli

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the command in its own process group so that
// cancellation reaches the tools and servers the CLI started too.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)
}

// terminate kills the whole process group, so children the CLI started
// die with it.
func terminate(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
