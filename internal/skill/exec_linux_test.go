package skill

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// waitGone returns once the process has ended, watching it through a
// pidfd rather than polling; a process still running after a long grace
// fails the test.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		// The grace only bounds a failing test; a passing one returns at
		// once, since the process was killed before the call returned.
		n, err := unix.Poll(fds, 30_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd of %d: %v", pid, err)
		}
		if n == 0 {
			t.Fatalf("process %d is still running", pid)
		}
		return
	}
}

// pidFile reads a pid a command wrote.
func pidFile(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pid
}

func TestShellExecTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := mustRun(t, ShellExec{}, dir, `{"command":"echo $$ > sh.pid; sleep 100 & echo $! > bg.pid; echo started; sleep 100","timeout_seconds":1}`)
	if out != "started\n[timed out after 1s: the command and every process it started were killed]" {
		t.Errorf("output %q", out)
	}
	waitGone(t, pidFile(t, dir, "sh.pid"))
	waitGone(t, pidFile(t, dir, "bg.pid"))
}

func TestShellExecCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pids []int
	env := Env{Dir: dir, Log: func(_, line string) {
		// The command prints its pids once both run; ending the context
		// then must kill both.
		for _, f := range strings.Fields(line) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		cancel()
	}}
	_, err := (ShellExec{}).Call(ctx, env, json.RawMessage(`{"command":"sleep 100 & echo $$ $!; sleep 100"}`))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if len(pids) != 2 {
		t.Fatalf("pids %v", pids)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

func TestShellExecLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := mustRun(t, ShellExec{}, dir, `{"command":"sleep 100 & echo $! > bg.pid; echo done"}`)
	if out != "done\n[exit code 0]" {
		t.Errorf("output %q", out)
	}
	waitGone(t, pidFile(t, dir, "bg.pid"))
}
