package workspace_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/coderclaw/coderclaw/internal/workspace"
	"golang.org/x/sys/unix"
)

// Killing the process group of a bwrap command (what skills do on timeout
// or cancellation) must end every process in the sandbox, although
// --new-session puts them in a session of their own.
func TestSandboxKillReachesEveryProcess(t *testing.T) {
	sb := sandboxFor(t, workspace.SandboxBwrap, workspace.SandboxConfig{})
	dir := nonTmpDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The shell starts a child in the background and says so.
	cmd, err := sb.Command(ctx, dir, []string{"sh", "-c", "sleep 1000 & echo started; wait"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	// Every process working in dir: bwrap, the shell and its child. Watch
	// them with pidfds, which become readable when they exit.
	var fds []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err != nil || cwd != dir {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // exited meanwhile
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	if len(fds) < 3 {
		t.Fatalf("found %d processes working in the sandbox dir, want bwrap, sh and sleep", len(fds))
	}
	cancel()
	_ = cmd.Wait()
	for _, fd := range fds {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); !errors.Is(err, unix.EINTR) {
				if err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
}
