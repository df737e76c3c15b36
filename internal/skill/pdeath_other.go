//go:build unix && !linux

package skill

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
