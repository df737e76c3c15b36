package config_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/config"
)

func TestApplyEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string // runtime.yaml content the variables apply to
		env    map[string]string
		want   func(r *config.Runtime) // expected change from the file's Runtime
		errors []string                // expected error lines instead
	}{
		{
			name: "nothing set",
			env:  map[string]string{},
			want: func(*config.Runtime) {},
		},
		{
			name: "every variable",
			env: map[string]string{
				"CODERCLAW_ADDR":                 "0.0.0.0:9000",
				"CODERCLAW_MODE":                 "remote-enabled",
				"CODERCLAW_MAX_CONCURRENT_TASKS": " 42 ",
				"CODERCLAW_LOG_LEVEL":            "debug",
			},
			want: func(r *config.Runtime) {
				r.Transport.Addr = "0.0.0.0:9000"
				r.Mode, r.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
				r.Deployment.MaxConcurrentTasks = 42
				r.Log.Level = "debug"
			},
		},
		{
			name: "mode overrides the file's mode and deployment.mode",
			file: "mode: remote-enabled\ndeployment:\n  mode: remote-enabled\n",
			env:  map[string]string{"CODERCLAW_MODE": "distributed-cluster"},
			want: func(r *config.Runtime) {
				r.Mode, r.Deployment.Mode = config.ModeDistributedCluster, config.ModeDistributedCluster
			},
		},
		{
			name: "other variables are ignored",
			env:  map[string]string{"CODERCLAW_STORE_DRIVER": "postgres", "CODERCLAW_HOME": "/x"},
			want: func(*config.Runtime) {},
		},
		{
			name: "malformed values, all reported",
			env: map[string]string{
				"CODERCLAW_ADDR":                 "localhost",
				"CODERCLAW_MODE":                 "cloud",
				"CODERCLAW_MAX_CONCURRENT_TASKS": "ten",
				"CODERCLAW_LOG_LEVEL":            "DEBUG",
			},
			errors: []string{
				`CODERCLAW_ADDR: transport.addr: must be host:port such as "127.0.0.1:7420", got "localhost"`,
				`CODERCLAW_MODE: mode: must be local-only, remote-enabled or distributed-cluster, got "cloud"`,
				`CODERCLAW_MAX_CONCURRENT_TASKS: deployment.maxConcurrentTasks: must be an integer, got "ten"`,
				`CODERCLAW_LOG_LEVEL: log.level: must be debug, info, warn or error, got "DEBUG"`,
			},
		},
		{
			name:   "out of range",
			env:    map[string]string{"CODERCLAW_MAX_CONCURRENT_TASKS": "0"},
			errors: []string{`CODERCLAW_MAX_CONCURRENT_TASKS: deployment.maxConcurrentTasks: must be between 1 and 10000, got 0`},
		},
		{
			name:   "address beyond loopback in local-only mode",
			env:    map[string]string{"CODERCLAW_ADDR": "0.0.0.0:7420"},
			errors: []string{`CODERCLAW_ADDR: transport.addr: listening on "0.0.0.0:7420" goes beyond loopback, which requires mode remote-enabled or distributed-cluster (mode is local-only)`},
		},
		{
			name:   "remote mode against the file's auth off",
			file:   "security:\n  requireAuth: false\n",
			env:    map[string]string{"CODERCLAW_MODE": "remote-enabled"},
			errors: []string{`CODERCLAW_MODE: security.requireAuth: must be true in remote-enabled mode (authentication may be off only in local-only mode)`},
		},
		{
			name:   "local mode against the file's public address",
			file:   "mode: remote-enabled\ntransport:\n  addr: 0.0.0.0:7420\n",
			env:    map[string]string{"CODERCLAW_MODE": "local-only"},
			errors: []string{`CODERCLAW_MODE: transport.addr: listening on "0.0.0.0:7420" goes beyond loopback`},
		},
		{
			name: "remote mode without a file requires auth by default",
			env:  map[string]string{"CODERCLAW_MODE": "remote-enabled"},
			want: func(r *config.Runtime) {
				r.Mode, r.Deployment.Mode = config.ModeRemoteEnabled, config.ModeRemoteEnabled
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := config.Parse("runtime.yaml", []byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := config.Parse("runtime.yaml", []byte(tt.file))
			getenv := func(k string) string { return tt.env[k] }
			err = r.ApplyEnv(getenv)
			if tt.errors != nil {
				if err == nil {
					t.Fatalf("ApplyEnv = nil, want %q", tt.errors)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.errors) {
					t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tt.errors), err)
				}
				for i, w := range tt.errors {
					if i < len(lines) && !strings.HasPrefix(lines[i], w) {
						t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
					}
				}
				for _, e := range errorLines(t, err) {
					if !strings.HasPrefix(e.Env, "CODERCLAW_") || e.Field == "" {
						t.Errorf("error %q: Env=%q Field=%q; want both", e, e.Env, e.Field)
					}
				}
				if !reflect.DeepEqual(r, before) {
					t.Errorf("ApplyEnv changed the Runtime although it failed:\n got %+v\nwant %+v", r, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyEnv = %v", err)
			}
			tt.want(&before)
			if !reflect.DeepEqual(r, before) {
				t.Errorf("ApplyEnv:\n got %+v\nwant %+v", r, before)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("Validate after ApplyEnv: %v", err)
			}
		})
	}
}

func TestApplyEnvProviders(t *testing.T) {
	env := map[string]string{
		"ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-oai",
		"OLLAMA_BASE_URL": "localhost:11434", // no scheme: invalid
	}
	r := config.Defaults()
	err := r.ApplyEnv(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "OLLAMA_BASE_URL") || !strings.Contains(err.Error(), "providers.ollama.baseURL") {
		t.Fatalf("ApplyEnv = %v, want an error naming OLLAMA_BASE_URL and providers.ollama.baseURL", err)
	}
	if r.Providers.Anthropic.APIKey != "" {
		t.Errorf("a failed ApplyEnv changed the Runtime")
	}
	env["OLLAMA_BASE_URL"] = "http://127.0.0.1:11434"
	r.Providers.OpenAI.APIKey = "from-file"
	if err := r.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if r.Providers.Anthropic.APIKey != "sk-ant" || r.Providers.OpenAI.APIKey != "from-file" || r.Providers.Ollama.BaseURL != "http://127.0.0.1:11434" {
		t.Errorf("providers after ApplyEnv: %+v", r.Providers)
	}
	if got := r.Providers.Configured(); !slices.Equal(got, []string{"anthropic", "openai", "ollama"}) || r.Providers.DefaultProvider() != "anthropic" {
		t.Errorf("Configured() = %v, default %q", got, r.Providers.DefaultProvider())
	}
}
