package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
)

// buildBinary compiles coderclaw into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "coderclaw")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode runs `coderclaw up` and waits until it answers.
func startNode(t *testing.T, bin, home, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "up", "--home", home, "--addr", addr)
	logf, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c, err := httptransport.NewClient("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Status(context.Background()); err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(home, "node.log"))
			t.Fatalf("node did not answer at %s:\n%s", addr, log)
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control
	}
}

// TestKillNineRecovery kills the node with SIGKILL while 100 shell tasks run
// and checks that after a restart every task ends, none is stuck, tasks that
// were cut off were requeued and completed, and every event log is gap-free.
func TestKillNineRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a node process; skipped with -short")
	}
	bin := buildBinary(t)
	home := t.TempDir()
	addr := freeAddr(t)
	node := startNode(t, bin, home, addr)
	c, err := httptransport.NewClient("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const n = 100
	ids := make([]string, n)
	for i := range n {
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{
			AgentID: "shell", Input: fmt.Sprintf("echo start %d; sleep 0.2; echo ::progress::50; sleep 0.2; echo end %d", i, i),
		})
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[i] = task.ID
	}
	// Wait until work is under way: some completed, some running.
	for {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Tasks[coderclaw.StatusCompleted] >= 20 && st.Tasks[coderclaw.StatusRunning] > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("tasks never got under way: %+v", st.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := node.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = node.Wait()

	startNode(t, bin, home, addr)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		requeued int
	)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for ev, err := range c.Stream(ctx, id, 0) {
				if err != nil {
					t.Errorf("stream %s: %v", id, err)
					return
				}
				if ev.Seq != last+1 {
					t.Errorf("task %s: seq %d after %d", id, ev.Seq, last)
				}
				last = ev.Seq
				if ev.Type == coderclaw.EventStatus && ev.Status == coderclaw.StatusPending && ev.Seq > 1 {
					mu.Lock()
					requeued++
					mu.Unlock()
				}
			}
			task, err := c.Task(ctx, id)
			if err != nil {
				t.Errorf("task %s: %v", id, err)
				return
			}
			if task.Status != coderclaw.StatusCompleted {
				t.Errorf("task %s ended %s (attempt %d): %s", id, task.Status, task.Attempt, task.Error)
			}
			if task.LastSeq != last {
				t.Errorf("task %s: last_seq %d, stream ended at %d", id, task.LastSeq, last)
			}
		}()
	}
	wg.Wait()
	if requeued == 0 {
		t.Errorf("no task was requeued: the kill did not interrupt running work")
	}
	t.Logf("%d tasks requeued after kill -9, all %d completed", requeued, n)
}
