// Package shell is the executor that runs a task's input as a shell command
// (`sh -c INPUT`) in the task's working directory.
//
// Every line the command writes to stdout or stderr becomes a log event.
// Two line forms on stdout talk to the runtime instead of being logged:
//
//	::progress::N        sets the task's progress to N (0-100)
//	::ask::QUESTION      puts the task in waiting; the answer given with
//	                     Respond is written to the command's stdin as a line
//
// The task's output is the command's stdout (at most MaxOutput bytes, the
// tail kept). Exit status 0 completes the task; any other fails it. When the
// context ends, the whole process group is killed.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/agent"
)

// Limits of the executor.
const (
	// MaxOutput is the most stdout kept as the task's output.
	MaxOutput = 64 << 10
	// MaxLine is the longest line logged as one event; longer lines are
	// split.
	MaxLine = 16 << 10
	// WaitDelay bounds how long Execute waits for output pipes held open by
	// grandchildren after the command exited or was killed.
	WaitDelay = 2 * time.Second
)

// Executor runs shell commands. The zero value uses /bin/sh.
type Executor struct {
	// Shell is the shell binary; empty means "sh" from PATH.
	Shell string
	// Env is added to the environment inherited from the node.
	Env []string
}

var _ agent.Executor = (*Executor)(nil)

// Agent describes the shell agent.
func Agent() coderclaw.Agent {
	return coderclaw.Agent{
		ID: "shell", Name: "Shell", Kind: "shell", Available: true,
		Description:  "Runs the task input as a shell command in the task's working directory.",
		Capabilities: []string{"shell"},
	}
}

// Execute runs the command and reports its output.
func (x *Executor) Execute(ctx context.Context, run agent.Run) (string, error) {
	task := run.Task()
	if err := os.MkdirAll(run.Dir(), 0o755); err != nil {
		return "", fmt.Errorf("create working directory: %w", err)
	}
	sh := x.Shell
	if sh == "" {
		sh = "sh"
	}
	cmd := exec.CommandContext(ctx, sh, "-c", task.Input)
	cmd.Dir = run.Dir()
	cmd.Env = append(os.Environ(), x.Env...)
	cmd.Env = append(cmd.Env,
		"CODERCLAW_TASK_ID="+task.ID,
		"CODERCLAW_ATTEMPT="+strconv.Itoa(task.Attempt),
		"CODERCLAW_AGENT="+task.AgentID)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return terminate(cmd) }
	cmd.WaitDelay = WaitDelay

	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("stdout pipe: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", fmt.Errorf("stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", sh, err)
	}

	var (
		wg      sync.WaitGroup
		out     tail
		lastErr string
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		scanLines(stderr, func(line string) {
			run.Log("stderr", line)
			if strings.TrimSpace(line) != "" {
				lastErr = line
			}
		})
	}()
	go func() {
		defer wg.Done()
		scanLines(stdout, func(line string) {
			switch {
			case strings.HasPrefix(line, "::progress::"):
				if p, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "::progress::"))); err == nil {
					run.Progress(p)
					return
				}
			case strings.HasPrefix(line, "::ask::"):
				answer, err := run.Ask(ctx, strings.TrimSpace(strings.TrimPrefix(line, "::ask::")))
				if err != nil {
					return
				}
				// A command that exited without reading its answer is not an
				// error of the executor; its exit status tells.
				_, _ = io.WriteString(stdin, answer+"\n")
				return
			}
			run.Log("stdout", line)
			out.write(line)
		})
	}()
	wg.Wait()
	_ = stdin.Close()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && lastErr != "" {
			return out.String(), fmt.Errorf("%s: %s", exitErr, lastErr)
		}
		return out.String(), err
	}
	return out.String(), nil
}

// scanLines calls fn for every line of r, splitting lines longer than
// MaxLine, until r ends.
func scanLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			fn(strings.TrimRight(string(line), "\r\n"))
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return
		}
	}
}

// tail keeps the last MaxOutput bytes of the lines written to it.
type tail struct {
	b []byte
}

func (t *tail) write(line string) {
	t.b = append(t.b, line...)
	t.b = append(t.b, '\n')
	if len(t.b) > 2*MaxOutput {
		t.b = append(t.b[:0], t.b[len(t.b)-MaxOutput:]...)
	}
}

func (t *tail) String() string {
	b := t.b
	if len(b) > MaxOutput {
		b = b[len(b)-MaxOutput:]
	}
	return strings.TrimRight(string(b), "\n")
}
