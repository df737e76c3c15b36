// Package mcp offers the tools of Model Context Protocol servers as skills.
//
// Connect starts a server (a command spoken to over stdio, or a streamable
// HTTP endpoint), lists its tools once, and Server.Skills returns one skill
// per tool, named mcp__<server>__<tool>. A skill's Call sends tools/call
// and turns the result into the text the model sees; a result the tool
// marks as an error comes back as a *ToolError holding the tool's text.
//
// An MCP tool runs wherever its server runs, with the server's own
// confinement, not in the task's workspace sandbox: the skill.Env of a
// call is not used, and the skills are dangerous unless the configuration
// says otherwise. A command server gets a minimal environment (HOME, PATH,
// USER and a few more, see Connect) plus ServerConfig.Env, never the
// node's secrets.
//
// Every call ends at ServerConfig.Timeout or when its context ends; a
// server that dies ends the calls waiting on it with an error. A Server is
// safe for concurrent use; Close ends the session and kills the command's
// whole process group. The tool list is the one the server offered at
// Connect: tools it adds later are not seen until the next Connect.
package mcp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/coderclaw/coderclaw/internal/skill"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds a tool call when ServerConfig.Timeout is zero.
	DefaultTimeout = 60 * time.Second
	// ConnectTimeout bounds Connect's handshake and tool listing.
	ConnectTimeout = 60 * time.Second
	// MaxOutput is the most text a call returns; longer results are cut
	// and say how much was left out.
	MaxOutput = 64 << 10
	// terminateGrace is how long Close lets a command server exit after
	// its stdin closed before it is signalled.
	terminateGrace = 2 * time.Second
	// waitDelay bounds the wait for the server's stderr after it exited,
	// should a process it started keep the pipe open.
	waitDelay = 2 * time.Second
	// stderrTail is how much of the server's stderr errors quote.
	stderrTail = 2 << 10
)

// ServerConfig describes one MCP server. Exactly one of Command and URL
// is set.
type ServerConfig struct {
	// Name identifies the server in skill ids, sources and errors.
	Name string
	// Command is the program to start, spoken to over its stdin and
	// stdout; Args are its arguments.
	Command string
	Args    []string
	// Env holds KEY=VALUE entries added to the command's minimal
	// environment, overriding it.
	Env []string
	// URL is a streamable HTTP endpoint, instead of Command.
	URL string
	// Dangerous says whether the server's tools are dangerous skills;
	// nil means true, since an MCP tool can do anything its server can.
	Dangerous *bool
	// Timeout bounds each tool call; zero means DefaultTimeout.
	Timeout time.Duration
}

// withDefaults validates c and fills in its defaults. Errors name the
// field that is wrong.
func (c ServerConfig) withDefaults() (ServerConfig, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.Name) == "" {
		bad("name: must not be empty")
	}
	switch {
	case c.Command == "" && c.URL == "":
		bad("command or url: one must be set")
	case c.Command != "" && c.URL != "":
		bad("command and url: set only one")
	case c.URL != "" && (len(c.Args) > 0 || len(c.Env) > 0):
		bad("args and env: apply to a command, not to url %s", c.URL)
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		bad("url: want an http:// or https:// URL, got %q", c.URL)
	}
	for i, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			bad("env[%d]: want KEY=VALUE, got %q", i, kv)
		}
	}
	if c.Timeout < 0 {
		bad("timeout: must not be negative, got %s", c.Timeout)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("mcp server %q: %w", c.Name, err)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Dangerous == nil {
		t := true
		c.Dangerous = &t
	}
	c.Args, c.Env = slices.Clone(c.Args), slices.Clone(c.Env)
	return c, nil
}

// Server is a connected MCP server.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	session *sdk.ClientSession
	cmd     *exec.Cmd   // nil for a URL server
	stderr  *stderrSink // nil for a URL server
	skills  []skill.Skill

	pidMu sync.Mutex
	pid   int // the command's process id once started

	closeOnce sync.Once
	closeErr  error
}

// Connect starts or reaches the server, performs the MCP handshake and
// lists its tools, all within ctx and ConnectTimeout. A command server runs
// in its own process group with the variables HOME, LOGNAME, USER, PATH,
// SHELL, TERM, LANG, LC_ALL, TMPDIR and TZ of the node's environment, then
// cfg.Env; its stderr is logged at debug level. A logger of nil discards.
//
// The error of a server that cannot start or does not answer names the
// server and its command (or URL) and quotes the end of its stderr.
func Connect(ctx context.Context, cfg ServerConfig, logger *slog.Logger) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("mcp_server", cfg.Name)
	s := &Server{cfg: cfg, log: logger}

	var (
		transport sdk.Transport
		stderrW   *os.File // the write end of the command's stderr
	)
	if cfg.Command != "" {
		cmd := exec.Command(cfg.Command, cfg.Args...)
		// Enough of the node's environment to find programs and a home,
		// none of its secrets.
		for _, k := range [...]string{"HOME", "LOGNAME", "USER", "PATH", "SHELL", "TERM", "LANG", "LC_ALL", "TMPDIR", "TZ"} {
			if v, ok := os.LookupEnv(k); ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		cmd.Env = append(cmd.Env, cfg.Env...)
		// The server's stderr goes through a pipe of our own, so that its
		// last words can be awaited once it is gone.
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("mcp server %q: stderr pipe: %w", cfg.Name, err)
		}
		stderrW = pw
		s.stderr = newStderrSink(logger, pr)
		cmd.Stderr = pw
		cmd.WaitDelay = waitDelay
		setProcessGroup(cmd)
		s.cmd = cmd
		transport = &startTransport{CommandTransport: sdk.CommandTransport{Command: cmd, TerminateDuration: terminateGrace}, s: s}
	} else {
		// The skills only make requests: the standalone stream for
		// server-initiated messages is not needed.
		transport = &sdk.StreamableClientTransport{Endpoint: cfg.URL, DisableStandaloneSSE: true}
	}

	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	// A command that never answers is killed when the handshake's time is
	// up, rather than given the grace period of an orderly close.
	stopKill := context.AfterFunc(cctx, s.kill)
	client := sdk.NewClient(&sdk.Implementation{Name: "coderclaw", Version: version()}, &sdk.ClientOptions{Logger: logger})
	session, err := client.Connect(cctx, transport, nil)
	if stderrW != nil {
		// The command started (it has its own copy) or never will.
		_ = stderrW.Close()
	}
	if err != nil {
		stopKill()
		s.kill()
		return nil, s.startError(cctx, "connect", err)
	}
	s.session = session
	tools, err := s.listTools(cctx)
	if !stopKill() && err == nil {
		err = cctx.Err()
	}
	if err != nil {
		_ = s.Close()
		return nil, s.startError(cctx, "list tools", err)
	}
	s.skills = s.toolSkills(tools)
	logger.Info("mcp server connected", "target", s.target(), "tools", len(s.skills))
	return s, nil
}

func (s *Server) listTools(ctx context.Context) ([]*sdk.Tool, error) {
	var tools []*sdk.Tool
	for t, err := range s.session.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// Name returns the server's configured name.
func (s *Server) Name() string { return s.cfg.Name }

// Skills returns one skill per tool the server offered at Connect, in the
// server's order.
func (s *Server) Skills() []skill.Skill { return slices.Clone(s.skills) }

// Close ends the session and, for a command server, the command: its
// stdin is closed, it is given a short grace period to exit, then it and
// every process of its group are killed. Close is idempotent; calls still
// running end with an error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.session != nil {
			s.closeErr = s.session.Close()
		}
		s.kill()
		var exit *exec.ExitError
		if errors.As(s.closeErr, &exit) {
			// How the server ended (killed, or crashed earlier) is no
			// failure of the close itself.
			s.log.Debug("mcp server exited", "status", exit.String())
			s.closeErr = nil
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close mcp server %q: %w", s.cfg.Name, s.closeErr)
		}
	})
	return s.closeErr
}

// kill ends a command server's process group at once.
func (s *Server) kill() {
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	if s.pid > 0 {
		killGroup(s.pid)
	}
}

// startTransport records the command's process id once it started, for
// kill, which may run while Connect does.
type startTransport struct {
	sdk.CommandTransport
	s *Server
}

func (t *startTransport) Connect(ctx context.Context) (sdk.Connection, error) {
	conn, err := t.CommandTransport.Connect(ctx)
	if p := t.Command.Process; p != nil {
		t.s.pidMu.Lock()
		t.s.pid = p.Pid
		t.s.pidMu.Unlock()
	}
	return conn, err
}

// target describes where the server runs, for messages.
func (s *Server) target() string {
	if s.cmd == nil {
		return "url " + s.cfg.URL
	}
	return "command " + strings.Join(append([]string{s.cfg.Command}, s.cfg.Args...), " ")
}

// startError describes a failure of Connect.
func (s *Server) startError(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	msg := fmt.Sprintf("mcp server %q (%s): %s", s.cfg.Name, s.target(), step)
	if tail := s.stderrTail(); tail != "" {
		return fmt.Errorf("%s: %w; stderr: %s", msg, err, tail)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// stderrTail returns the end of the server's stderr, for errors about a
// server that is gone: it waits, a little, for the server's last words.
func (s *Server) stderrTail() string {
	if s.stderr == nil {
		return ""
	}
	t := time.NewTimer(waitDelay)
	defer t.Stop()
	select {
	case <-s.stderr.done:
	case <-t.C:
	}
	return s.stderr.tail()
}

// version returns the version of the running binary, for the handshake.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// stderrSink logs a command server's stderr line by line and keeps its
// end for error messages.
type stderrSink struct {
	log  *slog.Logger
	done chan struct{} // closed when stderr ended

	mu   sync.Mutex
	last []byte
}

// newStderrSink reads r until it ends, then closes it.
func newStderrSink(log *slog.Logger, r io.ReadCloser) *stderrSink {
	w := &stderrSink{log: log, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer r.Close()
		br := bufio.NewReaderSize(r, stderrTail)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				w.mu.Lock()
				w.last = append(w.last, line...)
				if len(w.last) > stderrTail {
					w.last = w.last[len(w.last)-stderrTail:]
				}
				w.mu.Unlock()
				w.log.Debug("mcp server stderr", "line", string(bytes.TrimRight(line, "\n")))
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
		}
	}()
	return w
}

func (w *stderrSink) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(strings.ToValidUTF8(string(w.last), "\uFFFD"))
}
