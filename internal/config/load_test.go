package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/config"
)

func ptr[T any](v T) *T { return &v }

// errorLines splits a Parse/Load error into its *Error values, failing the
// test if any is of another type.
func errorLines(t *testing.T, err error) []*config.Error {
	t.Helper()
	var all []error
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		all = m.Unwrap()
	} else {
		all = []error{err}
	}
	out := make([]*config.Error, 0, len(all))
	for _, e := range all {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string // under testdata, or
		yaml string // inline
		want func(r *config.Runtime)
	}{
		{
			name: "empty file",
			yaml: "",
			want: func(*config.Runtime) {},
		},
		{
			name: "only comments",
			yaml: "# nothing here\n\n   # at all\n",
			want: func(*config.Runtime) {},
		},
		{
			name: "explicit document start and null root",
			yaml: "---\n~\n",
			want: func(*config.Runtime) {},
		},
		{
			name: "quick start local",
			file: "quickstart-local.yaml",
			want: func(r *config.Runtime) { r.Security.RequireAuth = ptr(false) },
		},
		{
			name: "quick start remote",
			file: "quickstart-remote.yaml",
			want: func(r *config.Runtime) {
				r.Mode = config.ModeRemoteEnabled
				r.Deployment.Mode = config.ModeRemoteEnabled
				r.Security.EnforceTrust = true
				r.Security.RequireAuth = ptr(true)
				r.Deployment.AllowRemoteSessions = true
				r.Deployment.MaxConcurrentTasks = 50
			},
		},
		{
			name: "configuration reference",
			file: "reference.yaml",
			want: func(r *config.Runtime) { r.Security.RequireAuth = ptr(false) },
		},
		{
			name: "troubleshooting snippet: remote mode, auth by default",
			file: "troubleshooting.yaml",
			want: func(r *config.Runtime) {
				r.Mode = config.ModeRemoteEnabled
				r.Deployment.Mode = config.ModeRemoteEnabled
				r.Deployment.AllowRemoteSessions = true
			},
		},
		{
			name: "every key",
			file: "full.yaml",
			want: func(r *config.Runtime) {
				*r = config.Runtime{
					Mode:       config.ModeDistributedCluster,
					Transport:  config.Transport{Type: "http", Enabled: false, Addr: "0.0.0.0:8080"},
					Security:   config.Security{EnforceTrust: true, RequireAuth: ptr(true), DefaultRoles: []string{"developer", "ci"}},
					Deployment: config.Deployment{Mode: config.ModeDistributedCluster, AllowRemoteSessions: true, MaxConcurrentTasks: 200},
					Engine:     config.Engine{LeaseDuration: time.Minute, HeartbeatInterval: 15 * time.Second, MaxAttempts: 5},
					Store:      config.Store{Driver: "sqlite", Path: "/var/lib/coderclaw/state.db", Synchronous: "NORMAL"},
					Log:        config.Log{Level: "debug", Format: "json"},
					Providers: config.Providers{
						Default:    "vllm",
						Anthropic:  config.Provider{APIKey: "sk-ant-test", BaseURL: "http://127.0.0.1:9001", Model: "claude-sonnet-4-5", MaxRetries: 2},
						OpenAI:     config.Provider{APIKey: "sk-test", BaseURL: "https://api.openai.com/v1", Model: "gpt-5", MaxRetries: 3},
						Ollama:     config.Provider{BaseURL: "http://127.0.0.1:11434/v1", Model: "qwen3-coder"},
						Compatible: []config.Provider{{Name: "vllm", BaseURL: "http://10.0.0.5:8000/v1", APIKey: "token", Model: "deepseek-coder"}},
					},
					Agents: config.Agents{File: "agents/team.yaml", MaxSteps: 30, MaxTokens: 500000, CLI: []config.CLIAgent{{
						Kind: "claude", Path: "/opt/claude/bin/claude", Model: "claude-opus-4-1", Args: []string{"--verbose"},
						Env: []string{"ANTHROPIC_BASE_URL=http://127.0.0.1:9001"}, Timeout: 10 * time.Minute,
					}}},
					Workspace: config.Workspace{Dir: "/srv/worktrees", Sandbox: "bwrap", Writable: []string{"/root/.cache/go-build"}, Network: true},
					MCP: config.MCP{Servers: []config.MCPServer{
						{Name: "files", Command: "mcp-files", Args: []string{"--root", "/srv"}, Env: []string{"LOG=debug"}, Dangerous: ptr(false), Timeout: 30 * time.Second},
						{Name: "web", URL: "http://127.0.0.1:9100/mcp"},
					}},
				}
			},
		},
		{
			name: "deployment.mode alone sets mode",
			yaml: "deployment:\n  mode: remote-enabled\n",
			want: func(r *config.Runtime) {
				r.Mode = config.ModeRemoteEnabled
				r.Deployment.Mode = config.ModeRemoteEnabled
			},
		},
		{
			name: "mode alone sets deployment.mode",
			yaml: "mode: distributed-cluster\n",
			want: func(r *config.Runtime) {
				r.Mode = config.ModeDistributedCluster
				r.Deployment.Mode = config.ModeDistributedCluster
			},
		},
		{
			name: "null values and empty sections keep defaults",
			yaml: "mode:\ntransport:\nsecurity: ~\nengine: {}\nstore:\n  path:\n",
			want: func(*config.Runtime) {},
		},
		{
			name: "empty role list",
			yaml: "security:\n  defaultRoles: []\n",
			want: func(r *config.Runtime) { r.Security.DefaultRoles = []string{} },
		},
		{
			name: "flow style, anchors and aliases",
			yaml: "engine: {leaseDuration: &d 2m, heartbeatInterval: 30s}\nlog: {level: &l warn}\nsecurity: {defaultRoles: [*l]}\n" +
				"store: {path: *d}\n",
			want: func(r *config.Runtime) {
				r.Engine.LeaseDuration = 2 * time.Minute
				r.Engine.HeartbeatInterval = 30 * time.Second
				r.Log.Level = "warn"
				r.Security.DefaultRoles = []string{"warn"}
				r.Store.Path = "2m"
			},
		},
		{
			name: "explicit string tag, hex integer, quoted port-only address",
			yaml: "mode: remote-enabled\ntransport:\n  addr: \":7420\"\ndeployment:\n  maxConcurrentTasks: 0x20\nstore:\n  path: !!str 123\n",
			want: func(r *config.Runtime) {
				r.Mode = config.ModeRemoteEnabled
				r.Deployment.Mode = config.ModeRemoteEnabled
				r.Transport.Addr = ":7420"
				r.Deployment.MaxConcurrentTasks = 32
				r.Store.Path = "123"
			},
		},
		{
			name: "loopback forms in local-only mode",
			yaml: "transport:\n  addr: \"[::1]:0\"\n",
			want: func(r *config.Runtime) { r.Transport.Addr = "[::1]:0" },
		},
		{
			name: "localhost and CRLF line ends",
			yaml: "transport:\r\n  addr: localhost:9000\r\n",
			want: func(r *config.Runtime) { r.Transport.Addr = "localhost:9000" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tt.yaml)
			name := "runtime.yaml"
			if tt.file != "" {
				name = filepath.Join("testdata", tt.file)
				var err error
				if data, err = os.ReadFile(name); err != nil {
					t.Fatal(err)
				}
			}
			got, err := config.Parse(name, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := config.Defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		// want lists every expected error line, each a prefix of one line
		// of the error ("file:line: field: message").
		want []string
	}{
		// Unknown and duplicate keys.
		{
			name: "unknown key in a section",
			yaml: "mode: local-only\ntransport:\n  modle: x\n",
			want: []string{`runtime.yaml:3: transport: unknown field "modle"`},
		},
		{
			name: "unknown key at the top, with a suggestion",
			yaml: "mdoe: local-only\n",
			want: []string{`runtime.yaml:1: unknown field "mdoe" (did you mean "mode"?)`},
		},
		{
			name: "misspelt key in a section",
			yaml: "mode: local-only\ntransport:\n  enable: true\n",
			want: []string{`runtime.yaml:3: transport: unknown field "enable" (did you mean "enabled"?)`},
		},
		{
			name: "snake case key",
			yaml: "deployment:\n  max_concurrent_tasks: 3\n",
			want: []string{`runtime.yaml:2: deployment: unknown field "max_concurrent_tasks" (did you mean "maxConcurrentTasks"?)`},
		},
		{
			name: "key in the wrong section",
			yaml: "maxConcurrentTasks: 4\n",
			want: []string{`runtime.yaml:1: unknown field "maxConcurrentTasks" (did you mean "deployment.maxConcurrentTasks"?)`},
		},
		{
			name: "merge key",
			yaml: "base: &b {type: http}\ntransport:\n  <<: *b\n",
			want: []string{
				`runtime.yaml:1: unknown field "base"`,
				`runtime.yaml:3: transport: unknown field "<<" (merge keys are not supported)`,
			},
		},
		{
			name: "non-scalar key",
			yaml: "? [a, b]\n: c\n",
			want: []string{`runtime.yaml:1: keys must be plain names, got a list`},
		},
		{
			name: "duplicate top-level key",
			yaml: "mode: local-only\nlog:\n  level: info\nmode: remote-enabled\n",
			want: []string{`runtime.yaml:4: mode: duplicate key (first at line 1)`},
		},
		{
			name: "duplicate nested key",
			yaml: "engine:\n  maxAttempts: 2\n  maxAttempts: 3\n",
			want: []string{`runtime.yaml:3: engine.maxAttempts: duplicate key (first at line 2)`},
		},

		// Wrong types.
		{
			name: "section is a scalar",
			yaml: "transport: http\n",
			want: []string{`runtime.yaml:1: transport: must be a mapping of settings, got "http"`},
		},
		{
			name: "top level is a list",
			yaml: "- mode: local-only\n",
			want: []string{`runtime.yaml:1: the top level must be a mapping`},
		},
		{
			name: "top level is a scalar",
			yaml: "local-only\n",
			want: []string{`runtime.yaml:1: the top level must be a mapping of settings such as "mode: local-only", got "local-only"`},
		},
		{
			name: "bool as yes",
			yaml: "transport:\n  enabled: yes\n",
			want: []string{`runtime.yaml:2: transport.enabled: must be true or false, got "yes"`},
		},
		{
			name: "bool as quoted string",
			yaml: "security:\n  requireAuth: \"true\"\n",
			want: []string{`runtime.yaml:2: security.requireAuth: must be true or false, got "true"`},
		},
		{
			name: "integer as word",
			yaml: "deployment:\n  maxConcurrentTasks: ten\n",
			want: []string{`runtime.yaml:2: deployment.maxConcurrentTasks: must be an integer, got "ten"`},
		},
		{
			name: "integer as float",
			yaml: "engine:\n  maxAttempts: 2.5\n",
			want: []string{`runtime.yaml:2: engine.maxAttempts: must be an integer, got 2.5`},
		},
		{
			name: "integer overflow",
			yaml: "deployment:\n  maxConcurrentTasks: 99999999999999999999999\n",
			want: []string{`runtime.yaml:2: deployment.maxConcurrentTasks: must be an integer, got 99999999999999999999999`},
		},
		{
			name: "integer overflow with an explicit tag",
			yaml: "deployment:\n  maxConcurrentTasks: !!int 99999999999999999999999\n",
			want: []string{`runtime.yaml:2: deployment.maxConcurrentTasks: must be an integer that fits in ` + strconv.Itoa(strconv.IntSize) + ` bits, got 99999999999999999999999`},
		},
		{
			name: "string as number",
			yaml: "transport:\n  addr: 7420\n",
			want: []string{`runtime.yaml:2: transport.addr: must be a string, got 7420`},
		},
		{
			name: "string as mapping",
			yaml: "log:\n  level:\n    name: debug\n",
			want: []string{`runtime.yaml:2: log.level: must be a string, got a mapping`},
		},
		{
			name: "string with custom tag",
			yaml: "store:\n  path: !secret foo\n",
			want: []string{`runtime.yaml:2: store.path: must be a string, got !secret "foo"`},
		},
		{
			name: "duration without unit",
			yaml: "engine:\n  leaseDuration: 30\n",
			want: []string{`runtime.yaml:2: engine.leaseDuration: must be a duration such as "30s" or "1m30s", got 30 (a number needs a unit)`},
		},
		{
			name: "duration misspelt",
			yaml: "engine:\n  heartbeatInterval: 10 seconds\n",
			want: []string{`runtime.yaml:2: engine.heartbeatInterval: must be a duration such as "30s" or "1m30s", got "10 seconds"`},
		},
		{
			name: "aliased value reported where it is used",
			yaml: "x: &n 30\nengine:\n  leaseDuration: *n\nsecurity:\n  defaultRoles:\n    - *n\n",
			want: []string{
				`runtime.yaml:1: unknown field "x"`,
				`runtime.yaml:3: engine.leaseDuration: must be a duration such as "30s" or "1m30s", got 30 (a number needs a unit)`,
				`runtime.yaml:6: security.defaultRoles[0]: must be a string, got 30`,
			},
		},
		{
			name: "list as scalar",
			yaml: "security:\n  defaultRoles: developer\n",
			want: []string{`runtime.yaml:2: security.defaultRoles: must be a list such as [a, b], got "developer"`},
		},
		{
			name: "list element of wrong type",
			yaml: "security:\n  defaultRoles:\n    - developer\n    - 7\n    -\n",
			want: []string{
				`runtime.yaml:4: security.defaultRoles[1]: must be a string, got 7`,
				`runtime.yaml:5: security.defaultRoles[2]: must not be empty`,
			},
		},

		// Bad values.
		{
			name: "mode",
			yaml: "mode: cloud\n",
			want: []string{`runtime.yaml:1: mode: must be local-only, remote-enabled or distributed-cluster, got "cloud"`},
		},
		{
			name: "transport type",
			yaml: "transport:\n  type: tcp\n",
			want: []string{`runtime.yaml:2: transport.type: must be local, http, websocket or grpc, got "tcp"`},
		},
		{
			name: "address without port",
			yaml: "transport:\n  addr: 127.0.0.1\n",
			want: []string{`runtime.yaml:2: transport.addr: must be host:port such as "127.0.0.1:7420", got "127.0.0.1"`},
		},
		{
			name: "address with bad port",
			yaml: "transport:\n  addr: 127.0.0.1:70000\n",
			want: []string{`runtime.yaml:2: transport.addr: port must be a number between 0 and 65535, got "70000"`},
		},
		{
			name: "max concurrent tasks zero",
			yaml: "mode: local-only\ntransport:\n  type: local\nsecurity:\n  requireAuth: false\ndeployment:\n  maxConcurrentTasks: 0\n",
			want: []string{`runtime.yaml:7: deployment.maxConcurrentTasks: must be between 1 and 10000, got 0`},
		},
		{
			name: "tls cert without key",
			yaml: "mode: remote-enabled\ntls:\n  cert: node.crt\n",
			want: []string{`runtime.yaml:2: tls.key: tls.cert and tls.key must be set together`},
		},
		{
			name: "max concurrent tasks too many",
			yaml: "deployment:\n  maxConcurrentTasks: 10001\n",
			want: []string{`runtime.yaml:2: deployment.maxConcurrentTasks: must be between 1 and 10000, got 10001`},
		},
		{
			name: "max attempts",
			yaml: "engine:\n  maxAttempts: 0\n",
			want: []string{`runtime.yaml:2: engine.maxAttempts: must be between 1 and 100, got 0`},
		},
		{
			name: "zero and negative durations",
			yaml: "engine:\n  leaseDuration: 0s\n  heartbeatInterval: -5s\n",
			want: []string{
				`runtime.yaml:2: engine.leaseDuration: must be positive, got 0s`,
				`runtime.yaml:3: engine.heartbeatInterval: must be positive, got -5s`,
			},
		},
		{
			name: "store driver postgres",
			yaml: "store:\n  driver: postgres\n",
			want: []string{`runtime.yaml:2: store.driver: postgres is not supported yet; use sqlite`},
		},
		{
			name: "store driver unknown",
			yaml: "store:\n  driver: mysql\n",
			want: []string{`runtime.yaml:2: store.driver: must be sqlite, got "mysql"`},
		},
		{
			name: "store path with tilde",
			yaml: "store:\n  path: ~/db.sqlite\n",
			want: []string{`runtime.yaml:2: store.path: "~/db.sqlite": "~" is not expanded`},
		},
		{
			name: "synchronous lower case",
			yaml: "store:\n  synchronous: full\n",
			want: []string{`runtime.yaml:2: store.synchronous: must be FULL or NORMAL, got "full"`},
		},
		{
			name: "log level and format",
			yaml: "log:\n  level: verbose\n  format: xml\n",
			want: []string{
				`runtime.yaml:2: log.level: must be debug, info, warn or error, got "verbose"`,
				`runtime.yaml:3: log.format: must be text or json, got "xml"`,
			},
		},
		{
			name: "roles: empty, spaced, duplicate",
			yaml: "security:\n  defaultRoles: [a, '', 'b c', a]\n",
			want: []string{
				`runtime.yaml:2: security.defaultRoles[1]: must not be empty`,
				`runtime.yaml:2: security.defaultRoles[2]: must not contain spaces, got "b c"`,
				`runtime.yaml:2: security.defaultRoles[3]: duplicate role "a" (also at index 0)`,
			},
		},

		// Contradictions.
		{
			name: "deployment.mode differs from mode",
			yaml: "mode: local-only\ndeployment:\n  mode: remote-enabled\n",
			want: []string{`runtime.yaml:3: deployment.mode: must equal mode (local-only), got "remote-enabled"`},
		},
		{
			name: "deployment.mode invalid",
			yaml: "deployment:\n  mode: both\n",
			want: []string{`runtime.yaml:2: deployment.mode: must be local-only, remote-enabled or distributed-cluster, got "both"`},
		},
		{
			name: "all interfaces in local-only",
			yaml: "transport:\n  addr: 0.0.0.0:7420\n",
			want: []string{`runtime.yaml:2: transport.addr: listening on "0.0.0.0:7420" goes beyond loopback, which requires mode remote-enabled or distributed-cluster (mode is local-only)`},
		},
		{
			name: "empty host in local-only",
			yaml: "mode: local-only\ntransport:\n  addr: \":7420\"\n",
			want: []string{`runtime.yaml:3: transport.addr: listening on ":7420" goes beyond loopback`},
		},
		{
			name: "host name in local-only",
			yaml: "transport:\n  addr: build.example.com:7420\n",
			want: []string{`runtime.yaml:2: transport.addr: listening on "build.example.com:7420" goes beyond loopback`},
		},
		{
			name: "auth off in remote mode",
			yaml: "mode: remote-enabled\nsecurity:\n  requireAuth: false\n",
			want: []string{`runtime.yaml:3: security.requireAuth: must be true in remote-enabled mode (authentication may be off only in local-only mode)`},
		},
		{
			name: "auth off in cluster mode set through deployment.mode",
			yaml: "security:\n  requireAuth: false\ndeployment:\n  mode: distributed-cluster\n",
			want: []string{`runtime.yaml:2: security.requireAuth: must be true in distributed-cluster mode`},
		},
		{
			name: "remote sessions in local-only",
			yaml: "deployment:\n  allowRemoteSessions: true\n",
			want: []string{`runtime.yaml:2: deployment.allowRemoteSessions: may be true only in mode remote-enabled or distributed-cluster (mode is local-only)`},
		},
		{
			name: "heartbeat not shorter than lease",
			yaml: "engine:\n  leaseDuration: 10s\n  heartbeatInterval: 10s\n",
			want: []string{`runtime.yaml:3: engine.heartbeatInterval: must be shorter than engine.leaseDuration (10s), got 10s`},
		},
		{
			name: "lease shorter than the default heartbeat is placed at the lease",
			yaml: "engine:\n  leaseDuration: 5s\n",
			want: []string{`runtime.yaml:2: engine.heartbeatInterval: must be shorter than engine.leaseDuration (5s), got 10s`},
		},

		// Not YAML, or more than one document.
		{
			name: "unclosed flow sequence",
			yaml: "security:\n  defaultRoles: [a, b\nlog:\n  level: info\n",
			want: []string{`runtime.yaml:3: security.defaultRoles: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)`},
		},
		{
			name: "colon in plain value",
			yaml: "transport:\n  addr: host: 7420\n",
			want: []string{`runtime.yaml:2: transport.addr: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			name: "tab indentation",
			yaml: "log:\n\tlevel: debug\n",
			want: []string{`runtime.yaml:2: log.level: invalid YAML: found character that cannot start any token (while scanning for the next token); indent with spaces, not tabs`},
		},
		{
			name: "unknown alias",
			yaml: "log:\n  level: *lvl\n",
			want: []string{`runtime.yaml:2: log.level: invalid YAML: unknown anchor 'lvl' referenced`},
		},
		{
			name: "two documents",
			yaml: "mode: local-only\n---\nmode: remote-enabled\n",
			want: []string{`runtime.yaml:2: a second YAML document; the file must hold one`},
		},

		// Several problems at once, in file order, without knock-on errors.
		{
			name: "all errors reported",
			yaml: "mode: remote\ntransport:\n  modle: x\n  addr: 0.0.0.0:80\nsecurity:\n  requireAuth: false\n" +
				"deployment:\n  maxConcurrentTasks: 0\nengine:\n  leaseDuration: 30\n  heartbeatInterval: 1m\n",
			want: []string{
				`runtime.yaml:1: mode: must be local-only, remote-enabled or distributed-cluster, got "remote"`,
				`runtime.yaml:3: transport: unknown field "modle"`,
				`runtime.yaml:8: deployment.maxConcurrentTasks: must be between 1 and 10000, got 0`,
				`runtime.yaml:10: engine.leaseDuration: must be a duration such as "30s" or "1m30s", got 30`,
			},
		},
		{
			name: "a section that is not a mapping hides nothing else",
			yaml: "security: strict\nlog:\n  level: loud\n",
			want: []string{
				`runtime.yaml:1: security: must be a mapping of settings, got "strict"`,
				`runtime.yaml:3: log.level: must be debug, info, warn or error, got "loud"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Parse("runtime.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v; want errors %q", got, tt.want)
			}
			if !reflect.DeepEqual(got, config.Runtime{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Runtime", got)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
			for _, e := range errorLines(t, err) {
				if e.File != "runtime.yaml" || e.Line <= 0 || e.Msg == "" {
					t.Errorf("error %q: File=%q Line=%d Msg=%q; want all set", e, e.File, e.Line, e.Msg)
				}
			}
		})
	}
}

func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	data := "security:\n  defaultRoles:\n" + strings.Repeat("    - 1\n", config.MaxErrors+7)
	_, err := config.Parse("runtime.yaml", []byte(data))
	errs := errorLines(t, err)
	if len(errs) != config.MaxErrors+1 {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), config.MaxErrors+1, err)
	}
	if last := errs[len(errs)-1]; last.Error() != "runtime.yaml: too many errors; 7 more not shown" {
		t.Errorf("last error = %q", last)
	}
	if first := errs[0]; first.Line != 3 || first.Field != "security.defaultRoles[0]" {
		t.Errorf("first error = %q, want line 3, security.defaultRoles[0]", first)
	}
}

func TestErrorFields(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("conf/runtime.yaml", []byte("log:\n  level: loud\n"))
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(%v, *config.Error) = false", err)
	}
	want := config.Error{File: "conf/runtime.yaml", Line: 2, Field: "log.level", Msg: `must be debug, info, warn or error, got "loud"`}
	if e.File != want.File || e.Line != want.Line || e.Field != want.Field || e.Msg != want.Msg || e.Env != "" {
		t.Errorf("got %+v, want %+v", *e, want)
	}

	// A cause is kept for errors.Is/As.
	_, err = config.Parse("runtime.yaml", []byte("engine:\n  leaseDuration: soon\n"))
	if !errors.As(err, &e) || e.Err == nil || errors.Unwrap(e) != e.Err {
		t.Errorf("duration error %v: want the time.ParseDuration error as its cause", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".coderClaw", "runtime.yaml")
	r, found, err := config.LoadFile(path)
	if err != nil || found {
		t.Fatalf("LoadFile(missing) = found %v, err %v; want false, nil", found, err)
	}
	if !reflect.DeepEqual(r, config.Defaults()) {
		t.Errorf("LoadFile(missing) = %+v, want Defaults()", r)
	}
	r, err = config.Load(path)
	if err != nil || !reflect.DeepEqual(r, config.Defaults()) {
		t.Errorf("Load(missing) = %+v, %v; want Defaults(), nil", r, err)
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := config.RuntimePath(home)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("mode: remote-enabled\nlog:\n  format: json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, found, err := config.LoadFile(path)
	if err != nil || !found {
		t.Fatalf("LoadFile = found %v, err %v; want true, nil", found, err)
	}
	if r.Mode != config.ModeRemoteEnabled || r.Log.Format != "json" || !r.AuthRequired() {
		t.Errorf("LoadFile = %+v", r)
	}

	if err := os.WriteFile(path, []byte("mode: remote-enabled\nlog:\n  format: yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, found, err = config.LoadFile(path)
	if want := path + `:3: log.format: must be text or json, got "yaml"`; !found || err == nil || err.Error() != want {
		t.Errorf("LoadFile(bad) = found %v, err %v; want true, %s", found, err, want)
	}
}

func TestLoadUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the file should be.
	_, _, err := config.LoadFile(dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("LoadFile(directory) = %v; want an error naming it", err)
	}
	// A path through a regular file.
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = config.LoadFile(filepath.Join(file, "runtime.yaml"))
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("LoadFile(through a file) = %v; want a wrapped *fs.PathError", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "runtime.yaml")
	big := "# " + strings.Repeat("x", config.MaxFileSize) + "\n"
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	_, found, err := config.LoadFile(path)
	var e *config.Error
	if !found || !errors.As(err, &e) || e.File != path || !strings.Contains(e.Msg, "larger than") {
		t.Errorf("LoadFile(too large) = found %v, err %v", found, err)
	}
}
