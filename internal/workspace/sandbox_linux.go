package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// landlockABI returns the Landlock ABI version of the kernel, 0 when it
// has none.
func landlockABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// SandboxMain runs a command under Landlock when the process was started
// for that by a landlock Sandbox (its first argument is the sandbox
// marker): it restricts the process and executes the command in its
// place, never returning; it exits with status 126 when it cannot apply
// the restriction or execute the command, 127 when the command is not
// found. Otherwise it returns false at once. A binary that uses a landlock
// Sandbox calls it first thing in main (tests: in TestMain).
func SandboxMain() bool {
	if len(os.Args) < 2 || os.Args[1] != sandboxMarker {
		return false
	}
	code, err := sandboxExec(os.Args[2:])
	fmt.Fprintf(os.Stderr, "coderclaw sandbox: %v\n", err)
	os.Exit(code)
	return true
}

// sandboxExec applies the configuration in args[0] and executes args[2:]
// (args[1] is "--"). It returns only on failure, with the exit status.
func sandboxExec(args []string) (int, error) {
	if len(args) < 3 || args[1] != "--" {
		return 126, errors.New("usage: " + sandboxMarker + " CONFIG -- PROGRAM [ARG...]")
	}
	var cfg landlockConfig
	if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
		return 126, fmt.Errorf("bad configuration: %w", err)
	}
	argv := args[2:]
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, fmt.Errorf("%s: command not found", argv[0])
	}
	rules := []landlock.Rule{
		landlock.RODirs("/"),
		landlock.RWDirs("/tmp", "/dev/shm").WithRefer().IgnoreIfMissing(),
		landlock.RWDirs("/dev").WithIoctlDev(),
	}
	if len(cfg.Writable) > 0 {
		rules = append(rules, landlock.RWDirs(cfg.Writable...).WithRefer().IgnoreIfMissing())
	}
	ll := landlock.V5.BestEffort()
	if cfg.Network {
		err = ll.RestrictPaths(rules...)
	} else {
		// Restrict with no network rule denies every TCP bind and connect.
		err = ll.Restrict(rules...)
	}
	if err != nil {
		return 126, fmt.Errorf("apply landlock: %w", err)
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return 126, fmt.Errorf("execute %s: %w", argv[0], err)
	}
	return 126, errors.New("exec returned")
}
