package cli

import "syscall"

// setParentDeathSignal kills the CLI if the node dies without a chance to
// clean up (kill -9), so no orphan keeps working on a task that will be
// requeued.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
