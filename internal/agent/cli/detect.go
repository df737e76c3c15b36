package cli

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// DetectTimeout bounds Detect.
const DetectTimeout = 10 * time.Second

// Detect runs the CLI of cfg with --version and returns the first line it
// prints, to show in the agent's description. It fails when the binary is
// missing, exits non-zero or prints nothing within DetectTimeout.
func Detect(ctx context.Context, cfg Config) (string, error) {
	kind, ok := LookupKind(cfg.Kind)
	if !ok {
		return "", fmt.Errorf("kind: unknown CLI %q", cfg.Kind)
	}
	path, err := resolve(kind, cfg.Path)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, DetectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = environ([]string{"NO_COLOR=1", "TERM=dumb"}, cfg.Env)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return terminate(cmd) }
	cmd.WaitDelay = WaitDelay
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s --version: no answer within %s: %w", path, DetectTimeout, ctx.Err())
		}
		msg := strings.TrimSpace(errOut.String())
		return "", fmt.Errorf("%s --version: %w: %s", path, err, clip(msg, 500))
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if s := strings.TrimSpace(line); s != "" {
			return clip(s, 200), nil
		}
	}
	return "", fmt.Errorf("%s --version printed nothing", path)
}
