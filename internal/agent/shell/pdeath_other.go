//go:build unix && !linux

package shell

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
