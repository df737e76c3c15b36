package config_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/config"
)

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	r := config.Defaults()
	if err := r.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
	if r.Mode != config.ModeLocalOnly || r.Transport.Addr != "127.0.0.1:7420" || r.AuthRequired() {
		t.Errorf("Defaults() = %+v", r)
	}
	// Defaults hands out a fresh slice each time.
	r.Security.DefaultRoles[0] = "admin"
	if got := config.Defaults().Security.DefaultRoles[0]; got != "developer" {
		t.Errorf("Defaults() shares its role slice: got %q", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(r *config.Runtime)
		want   []string // lines of the error, in order; none for valid
	}{
		{"defaults", func(*config.Runtime) {}, nil},
		{"empty deployment mode means mode", func(r *config.Runtime) { r.Deployment.Mode = "" }, nil},
		{"zero value", func(r *config.Runtime) { *r = config.Runtime{} }, []string{
			`mode: must be local-only, remote-enabled or distributed-cluster, got ""`,
			`transport.type: must be local, http, websocket or grpc, got ""`,
			`transport.addr: must be host:port such as "127.0.0.1:7420", got ""`,
			`deployment.maxConcurrentTasks: must be between 1 and 10000, got 0`,
			`engine.leaseDuration: must be positive, got 0s`,
			`engine.heartbeatInterval: must be positive, got 0s`,
			`engine.maxAttempts: must be between 1 and 100, got 0`,
			`store.driver: must be sqlite, got ""`,
			`store.synchronous: must be FULL or NORMAL, got ""`,
			`agents.maxSteps: must be between 1 and 10000, got 0`,
			`agents.maxTokens: must be at least 1000, got 0`,
			`workspace.sandbox: must be auto, bwrap, landlock or none, got ""`,
			`log.level: must be debug, info, warn or error, got ""`,
			`log.format: must be text or json, got ""`,
		}},
		{"remote mode listening everywhere", func(r *config.Runtime) {
			r.Mode, r.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
			r.Transport.Addr = "0.0.0.0:7420"
			r.Deployment.AllowRemoteSessions = true
		}, nil},
		{"remote mode with auth off", func(r *config.Runtime) {
			r.Mode, r.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
			f := false
			r.Security.RequireAuth = &f
		}, []string{`security.requireAuth: must be true in remote-enabled mode (authentication may be off only in local-only mode)`}},
		{"agents, providers, workspace and mcp", func(r *config.Runtime) {
			r.Providers.Default = "mistral"
			r.Providers.Ollama.BaseURL = "127.0.0.1:11434"
			r.Providers.Compatible = []config.Provider{{Name: "ollama", BaseURL: "http://x"}, {Name: "Bad Name"}}
			r.Agents.CLI = []config.CLIAgent{{Kind: "cursor"}, {Kind: "claude", Env: []string{"NOEQUALS"}}}
			r.Workspace.Sandbox = "docker"
			r.Workspace.Writable = []string{"cache"}
			r.MCP.Servers = []config.MCPServer{{Name: "a"}, {Name: "a", Command: "x", URL: "http://y"}}
		}, []string{
			`providers.ollama.baseURL: must be an http or https URL such as "http://127.0.0.1:11434/v1", got "127.0.0.1:11434"`,
			`providers.compatible[0].name: "ollama" is already the name of providers.ollama`,
			`providers.compatible[1].name: must be lower-case letters, digits, '_' or '-' (at most 32), got "Bad Name"`,
			`providers.compatible[1].baseURL: must be set: a compatible server is reached by its base URL`,
			`providers.default: must be anthropic, openai, ollama, ollama or Bad Name, got "mistral"`,
			`agents.cli[0].kind: must be aider, claude, codex, goose or opencode, got "cursor"`,
			`agents.cli[1].env[0]: must be KEY=VALUE, got "NOEQUALS"`,
			`workspace.sandbox: must be auto, bwrap, landlock or none, got "docker"`,
			`workspace.writable[0]: must be an absolute path, got "cache"`,
			`mcp.servers[0]: needs command (an MCP server on stdio) or url (streamable HTTP)`,
			`mcp.servers[1].name: duplicate server "a" (also at index 0)`,
			`mcp.servers[1].url: command and url are exclusive`,
		}},
		{"mode mismatch", func(r *config.Runtime) { r.Deployment.Mode = config.ModeDistributedCluster },
			[]string{`deployment.mode: must equal mode (local-only), got "distributed-cluster"`}},
		{"loopback IPv4 range", func(r *config.Runtime) { r.Transport.Addr = "127.8.9.10:1" }, nil},
		{"IPv6 any address", func(r *config.Runtime) { r.Transport.Addr = "[::]:7420" },
			[]string{`transport.addr: listening on "[::]:7420" goes beyond loopback, which requires mode remote-enabled or distributed-cluster (mode is local-only)`}},
		{"heartbeat longer than lease", func(r *config.Runtime) { r.Engine.HeartbeatInterval = time.Minute },
			[]string{`engine.heartbeatInterval: must be shorter than engine.leaseDuration (30s), got 1m0s`}},
		{"store path with NUL", func(r *config.Runtime) { r.Store.Path = "a\x00b" },
			[]string{`store.path: must not contain a NUL byte`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := config.Defaults()
			tt.change(&r)
			err := r.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate():\n got %s\nwant %s", got, want)
			}
			for _, e := range errorLines(t, err) {
				if e.Field == "" || e.File != "" || e.Line != 0 {
					t.Errorf("Validate error %+v: want a field and no position", *e)
				}
			}
		})
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	for _, tt := range []struct {
		mode config.Mode
		set  *bool
		want bool
	}{
		{config.ModeLocalOnly, nil, false},
		{config.ModeLocalOnly, &yes, true},
		{config.ModeLocalOnly, &no, false},
		{config.ModeRemoteEnabled, nil, true},
		{config.ModeRemoteEnabled, &yes, true},
		{config.ModeDistributedCluster, nil, true},
	} {
		r := config.Defaults()
		r.Mode, r.Security.RequireAuth = tt.mode, tt.set
		if got := r.AuthRequired(); got != tt.want {
			t.Errorf("mode %s, requireAuth %v: AuthRequired() = %v, want %v", tt.mode, tt.set, got, tt.want)
		}
	}
}

func TestDBPath(t *testing.T) {
	t.Parallel()
	home := filepath.FromSlash("/home/u/.coderclaw")
	for path, want := range map[string]string{
		"":                 filepath.Join(home, "coderclaw.db"),
		"data/cc.db":       filepath.Join(home, "data", "cc.db"),
		"/srv/cc/state.db": filepath.FromSlash("/srv/cc/state.db"),
	} {
		if got := (config.Store{Path: filepath.FromSlash(path)}).DBPath(home); got != want {
			t.Errorf("DBPath(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	t.Parallel()
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		if got := (config.Log{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

// Not parallel: it sets the process environment.
func TestDefaultHome(t *testing.T) {
	t.Setenv(config.EnvHome, "/opt/cc")
	if got := config.DefaultHome(); got != "/opt/cc" {
		t.Errorf("DefaultHome() with %s set = %q", config.EnvHome, got)
	}
	t.Setenv(config.EnvHome, "")
	u, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no user home directory:", err)
	}
	if got, want := config.DefaultHome(), filepath.Join(u, ".coderclaw"); got != want {
		t.Errorf("DefaultHome() = %q, want %q", got, want)
	}
	if got, want := config.RuntimePath("/h"), filepath.Join("/h", ".coderClaw", "runtime.yaml"); got != want {
		t.Errorf("RuntimePath = %q, want %q", got, want)
	}
}
