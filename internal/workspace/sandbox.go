package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The kinds of sandbox, as SandboxConfig.Mode and Sandbox.Kind name them.
const (
	SandboxAuto     = "auto"
	SandboxBwrap    = "bwrap"
	SandboxLandlock = "landlock"
	SandboxNone     = "none"
)

// sandboxMarker is the first argument of the re-executed binary that
// applies Landlock to itself before it runs a command; see SandboxMain.
const sandboxMarker = "__coderclaw-sandbox"

// probeTimeout bounds each probe NewSandbox runs.
const probeTimeout = 10 * time.Second

// SandboxConfig configures a Sandbox.
type SandboxConfig struct {
	// Mode is auto (the default when empty), bwrap, landlock or none. Auto
	// picks bwrap when it works on the machine, else Landlock when the
	// kernel has it and the binary calls SandboxMain, else none with a
	// warning.
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Writable lists extra directories, absolute, that commands may write
	// besides their working directory.
	Writable []string `json:"writable,omitempty" yaml:"writable,omitempty"`
	// Network lets commands reach the network; false (the default) cuts
	// them off from it (with Landlock: TCP only).
	Network bool `json:"network,omitempty" yaml:"network,omitempty"`
}

// Sandbox starts commands confined to their working directory: they may
// read the whole file system but write only their directory, the git
// directory of the repository it is a worktree of, the Go build cache, the
// configured Writable directories, a temporary directory and /dev; and,
// unless Network is set, not use the network.
//
// With bwrap, commands run in new namespaces (pid, network, ipc, uts,
// user) with / mounted read-only and a private /tmp; killing the bwrap
// process kills everything in the sandbox. With Landlock, the binary is
// executed again and restricts itself (SandboxMain) before it executes the
// command; /tmp is shared and writable and only TCP is cut off. With none,
// commands run unconfined.
//
// A Sandbox is safe for concurrent use. It implements the Sandbox
// interface of package skill.
type Sandbox struct {
	kind     string
	cfg      SandboxConfig
	exe      string // the binary re-executed for Landlock
	gocache  string
	log      *slog.Logger
	bwrapBin string
}

// landlockConfig is what the re-executed binary is told to allow.
type landlockConfig struct {
	Writable []string `json:"rw"`
	Network  bool     `json:"net"`
}

// NewSandbox returns the sandbox cfg describes. Asking for bwrap or
// Landlock where it does not work is an error saying why; in auto mode the
// fallback to none is logged as a warning.
func NewSandbox(cfg SandboxConfig, logger *slog.Logger) (*Sandbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Writable = slices.Clone(cfg.Writable)
	for i, w := range cfg.Writable {
		if !filepath.IsAbs(w) {
			return nil, fmt.Errorf("sandbox config: writable[%d] %q is not an absolute path", i, w)
		}
		cfg.Writable[i] = filepath.Clean(w)
	}
	s := &Sandbox{cfg: cfg, log: logger}
	mode := strings.ToLower(strings.TrimSpace(cfg.Mode))
	switch mode {
	case "", SandboxAuto:
		bwrapErr := s.probeBwrap()
		if bwrapErr == nil {
			s.kind = SandboxBwrap
			break
		}
		llErr := s.probeLandlock()
		if llErr == nil {
			s.kind = SandboxLandlock
			break
		}
		s.kind = SandboxNone
		logger.Warn("shell commands run without a sandbox: "+bwrapErr.Error()+"; "+llErr.Error(),
			"bwrap", bwrapErr.Error(), "landlock", llErr.Error())
	case SandboxBwrap:
		if err := s.probeBwrap(); err != nil {
			return nil, fmt.Errorf("sandbox config: mode bwrap: %w", err)
		}
		s.kind = SandboxBwrap
	case SandboxLandlock:
		if err := s.probeLandlock(); err != nil {
			return nil, fmt.Errorf("sandbox config: mode landlock: %w", err)
		}
		s.kind = SandboxLandlock
	case SandboxNone:
		s.kind = SandboxNone
		logger.Info("shell commands run without a sandbox: sandbox mode is none")
	default:
		return nil, fmt.Errorf("sandbox config: mode %q is not one of auto, bwrap, landlock, none", cfg.Mode)
	}
	if s.kind != SandboxNone {
		s.gocache = goCache()
		logger.Info("shell commands run in a sandbox", "kind", s.kind, "network", cfg.Network)
	}
	return s, nil
}

// Kind names the confinement: "bwrap", "landlock" or "none".
func (s *Sandbox) Kind() string { return s.kind }

// Command returns a command that runs argv in dir, an existing absolute
// directory, confined by the sandbox. The caller sets its output, process
// group and timeout, then starts it; ctx ending kills it like
// exec.CommandContext does.
func (s *Sandbox) Command(ctx context.Context, dir string, argv []string) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("sandbox command: no program given")
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("sandbox command: directory %q is not absolute", dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sandbox command: directory %s does not exist", dir)
	}
	var cmd *exec.Cmd
	switch s.kind {
	case SandboxBwrap:
		args := s.bwrapArgs(s.writable(ctx, dir), dir)
		cmd = exec.CommandContext(ctx, s.bwrapBin, append(args, argv...)...)
	case SandboxLandlock:
		b, err := json.Marshal(landlockConfig{Writable: s.writable(ctx, dir), Network: s.cfg.Network})
		if err != nil {
			return nil, fmt.Errorf("sandbox command: %w", err)
		}
		cmd = exec.CommandContext(ctx, s.exe, append([]string{sandboxMarker, string(b), "--"}, argv...)...)
	default:
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	cmd.Dir = dir
	return cmd, nil
}

// writable lists the existing directories a command in dir may write.
func (s *Sandbox) writable(ctx context.Context, dir string) []string {
	list := []string{dir}
	// Commits in a worktree write the repository's git directory.
	if common, err := git(ctx, dir, "rev-parse", "--path-format=absolute", "--git-common-dir"); err == nil && common != "" {
		list = append(list, common)
	}
	list = append(list, s.cfg.Writable...)
	if s.gocache != "" {
		list = append(list, s.gocache)
	}
	out := list[:0]
	for _, p := range list {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// bwrapArgs are the bwrap options that run a command in dir writing only
// rw, followed by "--".
func (s *Sandbox) bwrapArgs(rw []string, dir string) []string {
	args := []string{
		"--ro-bind", "/", "/",
		"--dev", "/dev",
		"--proc", "/proc",
		"--tmpfs", "/tmp",
	}
	for _, p := range rw {
		args = append(args, "--bind", p, p)
	}
	args = append(args, "--unshare-all")
	if s.cfg.Network {
		args = append(args, "--share-net")
	}
	// --new-session keeps commands from injecting input into a terminal
	// of the node (TIOCSTI); killing bwrap still kills them all, through
	// --die-with-parent and the end of the pid namespace.
	return append(args, "--die-with-parent", "--new-session", "--chdir", dir, "--")
}

// probeBwrap checks that bwrap is installed and can set up a sandbox here
// (it cannot in some containers).
func (s *Sandbox) probeBwrap() error {
	bin, err := exec.LookPath("bwrap")
	if err != nil {
		return errors.New("bwrap is not installed (Debian package bubblewrap)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	args := append(s.bwrapArgs(nil, "/"), "true")
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("bwrap does not work here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	s.bwrapBin = bin
	return nil
}

// probeLandlock checks that the kernel has Landlock and that this binary
// applies it when executed again (it calls SandboxMain first).
func (s *Sandbox) probeLandlock() error {
	abi := landlockABI()
	if abi < 1 {
		return errors.New("the kernel does not offer Landlock")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("landlock: cannot find this binary to execute it again: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	b, err := json.Marshal(landlockConfig{Network: s.cfg.Network})
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	out, err := exec.CommandContext(ctx, exe, sandboxMarker, string(b), "--", "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("landlock: %s does not apply it when executed again (does main call workspace.SandboxMain?): %v: %s",
			exe, err, strings.TrimSpace(string(out)))
	}
	s.exe = exe
	return nil
}

// goCache returns the Go build cache directory, so that go build and go
// test work in the sandbox, or "".
func goCache() string {
	if _, err := exec.LookPath("go"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output()
	if err != nil {
		return ""
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" || dir == "off" || !filepath.IsAbs(dir) {
		return ""
	}
	return dir
}
