package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/skill"
)

// Limits of a command skill's call.
const (
	// DefaultTimeout bounds a call when the manifest sets no timeout.
	DefaultTimeout = 60 * time.Second
	// MaxOutput is the most stdout a call returns; the rest is dropped,
	// saying how much.
	MaxOutput = 64 << 10
	// maxStderr is how much of the end of stderr an error quotes.
	maxStderr = 4 << 10
	// waitDelay bounds the wait for output pipes held open by processes
	// the command started, after it exited or was killed.
	waitDelay = 2 * time.Second
)

// Installed is a skill installed in a skills directory.
type Installed struct {
	Manifest
	// Dir is the skill's directory.
	Dir string `json:"dir"`
}

// List returns the skills installed in dir (<home>/skills), by id: each
// subdirectory whose name does not start with '.' and whose skill.yaml
// parses with the directory's name as its id. A skills directory that
// does not exist holds no skills. The skills that read well are returned
// even when others do not; the error joins one error per other skill.
func List(dir string) ([]Installed, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list skills: %w", err)
	}
	var (
		out  []Installed
		errs []error
	)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		sd := filepath.Join(dir, e.Name())
		file := filepath.Join(sd, ManifestFile)
		data, err := readFileLimit(file, MaxManifestSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("skill %s: %w", e.Name(), err))
			continue
		}
		m, err := ParseManifest(file, data)
		if err != nil {
			errs = append(errs, fmt.Errorf("skill %s: %w", e.Name(), err))
			continue
		}
		if m.ID != e.Name() {
			errs = append(errs, fmt.Errorf("skill %s: %s names the skill %s", e.Name(), file, m.ID))
			continue
		}
		out = append(out, Installed{Manifest: m, Dir: sd})
	}
	return out, errors.Join(errs...)
}

// Load returns the skills installed in dir as command skills, after
// checking each listed file against its checksum again. Like List, it
// returns the skills that load even when others do not, with an error
// naming each of those.
func Load(dir string) ([]skill.Skill, error) {
	list, err := List(dir)
	errs := []error{err}
	out := make([]skill.Skill, 0, len(list))
	for _, in := range list {
		if err := verify(in); err != nil {
			errs = append(errs, fmt.Errorf("skill %s: %w", in.ID, err))
			continue
		}
		out = append(out, newCommand(in))
	}
	return out, errors.Join(errs...)
}

// verify checks an installed skill's files against the manifest.
func verify(in Installed) error {
	root, err := os.OpenRoot(in.Dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range in.Files {
		data, err := readRegular(root, filepath.FromSlash(f.Path), MaxFileSize)
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if got := sum(data); !sameSum(got, f.SHA256) {
			return fmt.Errorf("file %s has SHA-256 %s, the manifest says %s: reinstall the skill", f.Path, got, strings.ToLower(f.SHA256))
		}
	}
	return nil
}

func readFileLimit(name string, limit int64) ([]byte, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", name, limit)
	}
	return os.ReadFile(name)
}

// command is an installed skill that runs its manifest's command.
type command struct {
	m    Manifest
	dir  string
	argv []string
}

var _ skill.Skill = (*command)(nil)

// newCommand resolves the command's arguments that name the skill's files
// to their installed paths.
func newCommand(in Installed) *command {
	argv := slices.Clone(in.Command)
	for i, a := range argv {
		for _, f := range in.Files {
			if a == f.Path || a == "./"+f.Path {
				argv[i] = filepath.Join(in.Dir, filepath.FromSlash(f.Path))
			}
		}
	}
	return &command{m: in.Manifest, dir: in.Dir, argv: argv}
}

// Info describes the skill from its manifest.
func (c *command) Info() coderclaw.Skill {
	perm := c.m.RequiredPermission
	if perm == "" {
		perm = string(security.SkillExecute)
	}
	return coderclaw.Skill{
		ID:                 c.m.ID,
		Description:        c.m.Description,
		RequiredPermission: perm,
		Dangerous:          c.m.Dangerous,
		Source:             "registry",
	}
}

// Schema returns the manifest's input schema.
func (c *command) Schema() json.RawMessage { return bytes.Clone(c.m.Input) }

// Call runs the command in env.Dir through env.Sandbox, with input (a JSON
// object; empty means {}) on stdin and CODERCLAW_SKILL_DIR naming the
// skill's directory. Its stdout, up to MaxOutput, is the result; stderr
// lines go to env.Log. A command that fails returns an error quoting the
// end of its stderr (or of its stdout). At the timeout, or when ctx ends,
// the command's whole process group is killed.
func (c *command) Call(ctx context.Context, env skill.Env, input json.RawMessage) (string, error) {
	if env.Sandbox == nil {
		return "", fmt.Errorf("skill %s: no sandbox to run its command in", c.m.ID)
	}
	input = bytes.TrimSpace(input)
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	if input[0] != '{' || !json.Valid(input) {
		return "", fmt.Errorf("input must be a JSON object, got %s", clip(string(input)))
	}
	timeout := c.m.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd, err := env.Sandbox.Command(cctx, env.Dir, c.argv)
	if err != nil {
		return "", fmt.Errorf("skill %s: sandbox %s: %w", c.m.ID, env.Sandbox.Kind(), err)
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "CODERCLAW_SKILL_DIR="+c.dir, "CODERCLAW_SKILL_ID="+c.m.ID)
	cmd.Stdin = bytes.NewReader(input)
	stdout := &headBuffer{max: MaxOutput}
	stderr := &lineTail{max: maxStderr, log: env.Log}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setProcessGroup(cmd)
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("skill %s: start %s: %w", c.m.ID, c.argv[0], err)
	}
	stopKill := context.AfterFunc(cctx, func() { killGroup(cmd) })
	err = cmd.Wait()
	stopKill()
	stderr.flush()
	out := stdout.String()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("skill %s: %w", c.m.ID, context.Cause(ctx))
	case cctx.Err() != nil:
		return "", fmt.Errorf("skill %s did not finish within %s: %w", c.m.ID, timeout, cctx.Err())
	case err != nil:
		why := stderr.String()
		if why == "" {
			why = tail(out, maxStderr)
		}
		if why == "" {
			return "", fmt.Errorf("skill %s: %w", c.m.ID, err)
		}
		return "", fmt.Errorf("skill %s: %w: %s", c.m.ID, err, why)
	}
	return out, nil
}

// headBuffer keeps the first max bytes written and counts the rest.
type headBuffer struct {
	max     int
	mu      sync.Mutex
	buf     []byte
	dropped int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if room >= len(p) {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	b.buf = append(b.buf, p[:max(room, 0)]...)
	b.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (b *headBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.buf)
	}
	kept := strings.ToValidUTF8(string(b.buf), "")
	return kept + fmt.Sprintf("\n[output truncated: %d more bytes]", b.dropped+int64(len(b.buf)-len(kept)))
}

// lineTail keeps the last max bytes written and passes complete lines to
// log.
type lineTail struct {
	max     int
	log     func(stream, line string)
	mu      sync.Mutex
	last    []byte
	partial []byte
}

func (w *lineTail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = append(w.last, p...)
	if len(w.last) > w.max {
		w.last = w.last[len(w.last)-w.max:]
	}
	if w.log == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.log("stderr", string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > w.max {
		w.log("stderr", string(w.partial))
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

// flush logs a last line without a newline.
func (w *lineTail) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.log != nil && len(w.partial) > 0 {
		w.log("stderr", string(w.partial))
		w.partial = nil
	}
}

func (w *lineTail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(strings.ToValidUTF8(string(w.last), ""))
}

// tail returns the last n bytes of s, trimmed.
func tail(s string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, ""))
}
