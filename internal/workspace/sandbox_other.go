//go:build !linux

package workspace

// landlockABI returns 0: Landlock is Linux's.
func landlockABI() int { return 0 }

// SandboxMain returns false: Landlock is Linux's, so no landlock Sandbox
// starts this process to apply it.
func SandboxMain() bool { return false }
