package skill

import "syscall"

// setParentDeathSignal kills the command if the node dies without a chance
// to clean up (kill -9), so that no orphan keeps changing a workspace.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
