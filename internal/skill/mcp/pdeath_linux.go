package mcp

import "syscall"

// setParentDeathSignal kills the server if the node dies without a chance
// to close it (kill -9), so no orphan server keeps running.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
