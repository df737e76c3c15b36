package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode is how a node is deployed.
type Mode string

// The deployment modes.
const (
	// ModeLocalOnly is one node for one user: loopback only, auth optional.
	ModeLocalOnly Mode = "local-only"
	// ModeRemoteEnabled accepts remote clients; auth is required.
	ModeRemoteEnabled Mode = "remote-enabled"
	// ModeDistributedCluster is several nodes sharing one store.
	ModeDistributedCluster Mode = "distributed-cluster"
)

// Valid reports whether m is one of the defined modes.
func (m Mode) Valid() bool {
	return m == ModeLocalOnly || m == ModeRemoteEnabled || m == ModeDistributedCluster
}

// Transport types (Transport.Type).
const (
	TransportLocal     = "local"
	TransportHTTP      = "http"
	TransportWebSocket = "websocket"
	TransportGRPC      = "grpc"
)

// Store drivers (Store.Driver). Only DriverSQLite is supported so far.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Limits of the numeric settings, inclusive.
const (
	MaxConcurrentTasksMin = 1
	MaxConcurrentTasksMax = 10000
	MaxAttemptsMin        = 1
	MaxAttemptsMax        = 100
)

// DefaultAddr is the address a node listens on unless told otherwise.
const DefaultAddr = "127.0.0.1:7420"

// Runtime is the content of runtime.yaml. The YAML keys are the camelCase
// names in the tags; each field documents its default (see Defaults).
type Runtime struct {
	// Mode is the deployment mode. Default local-only.
	Mode       Mode       `yaml:"mode"`
	Transport  Transport  `yaml:"transport"`
	Security   Security   `yaml:"security"`
	Deployment Deployment `yaml:"deployment"`
	Engine     Engine     `yaml:"engine"`
	Store      Store      `yaml:"store"`
	Log        Log        `yaml:"log"`
	TLS        TLS        `yaml:"tls"`
	Providers  Providers  `yaml:"providers"`
	Agents     Agents     `yaml:"agents"`
	Workspace  Workspace  `yaml:"workspace"`
	MCP        MCP        `yaml:"mcp"`
}

// TLS makes the node serve HTTPS. Both files or neither; TLS is allowed in
// every mode but meant for remote-enabled and distributed-cluster nodes.
type TLS struct {
	// Cert and Key are PEM files; a relative path is relative to the home
	// directory (see Path).
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" }

// Path resolves a TLS file name against the home directory.
func (t TLS) Path(home, file string) string {
	if file == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(home, file)
}

// Transport says how the node serves the runtime.
type Transport struct {
	// Type is local, http, websocket or grpc. Default local.
	Type string `yaml:"type"`
	// Enabled turns the transport on. Default true.
	Enabled bool `yaml:"enabled"`
	// Addr is the host:port the node listens on. Default 127.0.0.1:7420.
	// A host other than a loopback address ("localhost", 127.0.0.0/8, ::1),
	// including an empty host (all interfaces), is allowed only in the
	// remote-enabled and distributed-cluster modes. Port 0 picks a free port.
	Addr string `yaml:"addr"`
}

// Security holds the node's security switches.
type Security struct {
	// EnforceTrust enforces device trust levels. Default false.
	EnforceTrust bool `yaml:"enforceTrust"`
	// RequireAuth requires authentication on every request. Nil, the
	// default, means "as the mode says": off in local-only, on otherwise.
	// Use Runtime.AuthRequired for the effective value. Setting it false is
	// allowed only in local-only mode.
	RequireAuth *bool `yaml:"requireAuth,omitempty"`
	// DefaultRoles are given to new sessions. Default [developer].
	DefaultRoles []string `yaml:"defaultRoles"`
}

// Deployment holds the node's deployment settings.
type Deployment struct {
	// Mode must equal Runtime.Mode. Empty means the same as Runtime.Mode;
	// Load always fills it in.
	Mode Mode `yaml:"mode"`
	// AllowRemoteSessions lets sessions from other machines in. Default
	// false; true requires remote-enabled or distributed-cluster mode.
	AllowRemoteSessions bool `yaml:"allowRemoteSessions"`
	// MaxConcurrentTasks bounds the tasks this node runs at once,
	// 1 to 10000. Default 10.
	MaxConcurrentTasks int `yaml:"maxConcurrentTasks"`
}

// Engine tunes task execution. Durations are Go duration strings ("30s").
type Engine struct {
	// LeaseDuration is how long a claim lasts without a heartbeat.
	// Default 30s.
	LeaseDuration time.Duration `yaml:"leaseDuration"`
	// HeartbeatInterval is how often a worker renews its lease; it must be
	// shorter than LeaseDuration. Default 10s.
	HeartbeatInterval time.Duration `yaml:"heartbeatInterval"`
	// MaxAttempts is how many times a task runs before it fails for good,
	// 1 to 100. Default 3.
	MaxAttempts int `yaml:"maxAttempts"`
}

// Store selects and tunes the store.
type Store struct {
	// Driver is sqlite (the default). postgres is not supported yet.
	Driver string `yaml:"driver"`
	// Path is the SQLite database file. Empty means coderclaw.db in the
	// home directory; a relative path is relative to the home directory
	// (see DBPath). "~" is not expanded.
	Path string `yaml:"path"`
	// Synchronous is SQLite's synchronous pragma, FULL (the default) or
	// NORMAL.
	Synchronous string `yaml:"synchronous"`
}

// Log configures the node's log.
type Log struct {
	// Level is debug, info (the default), warn or error.
	Level string `yaml:"level"`
	// Format is text (the default) or json.
	Format string `yaml:"format"`
}

// Defaults returns the configuration of a node that has no runtime.yaml.
func Defaults() Runtime {
	return Runtime{
		Mode: ModeLocalOnly,
		Transport: Transport{
			Type:    TransportLocal,
			Enabled: true,
			Addr:    DefaultAddr,
		},
		Security: Security{
			DefaultRoles: []string{"developer"},
		},
		Deployment: Deployment{
			Mode:               ModeLocalOnly,
			MaxConcurrentTasks: 10,
		},
		Engine: Engine{
			LeaseDuration:     30 * time.Second,
			HeartbeatInterval: 10 * time.Second,
			MaxAttempts:       3,
		},
		Store: Store{
			Driver:      DriverSQLite,
			Synchronous: "FULL",
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
		Agents: Agents{
			MaxSteps:  50,
			MaxTokens: 2_000_000,
		},
		Workspace: Workspace{
			Sandbox: "auto",
		},
	}
}

// DefaultHome returns the node's home directory: $CODERCLAW_HOME if set,
// else ~/.coderclaw, or the relative path .coderclaw when the user's home
// directory is unknown.
func DefaultHome() string {
	if h := os.Getenv(EnvHome); h != "" {
		return h
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return ".coderclaw"
	}
	return filepath.Join(u, ".coderclaw")
}

// RuntimePath returns the path of runtime.yaml in a node's home directory.
func RuntimePath(home string) string {
	return filepath.Join(home, ".coderClaw", "runtime.yaml")
}

// AuthRequired reports whether requests must be authenticated: the value
// of security.requireAuth when set, else true in every mode but local-only.
func (r Runtime) AuthRequired() bool {
	if r.Security.RequireAuth != nil {
		return *r.Security.RequireAuth
	}
	return r.Mode != ModeLocalOnly
}

// DBPath returns the SQLite database file for a node's home directory.
func (s Store) DBPath(home string) string {
	switch {
	case s.Path == "":
		return filepath.Join(home, "coderclaw.db")
	case filepath.IsAbs(s.Path):
		return s.Path
	default:
		return filepath.Join(home, s.Path)
	}
}

// SlogLevel returns Level as a slog.Level (info for an invalid level).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Validate reports every invalid or inconsistent setting of r as an *Error
// naming the field (joined with errors.Join when there are several):
//
//   - every enumerated value must be one of its documented values and every
//     number within its documented range;
//   - deployment.mode, when set, must equal mode;
//   - transport.addr must be host:port, and listening beyond loopback
//     requires mode remote-enabled or distributed-cluster;
//   - security.requireAuth may be false only in local-only mode;
//   - deployment.allowRemoteSessions may be true only outside local-only;
//   - durations must be positive, and engine.heartbeatInterval shorter than
//     engine.leaseDuration;
//   - security.defaultRoles must be distinct names without spaces.
func (r Runtime) Validate() error {
	return join(r.validate())
}

// validate returns the problems of r in field order. Each *Error has Field
// set; related lists the other fields a problem involves, so that a caller
// that knows where fields came from can place it.
func (r Runtime) validate() []*Error {
	var errs []*Error
	add := func(field string, related []string, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...), related: related})
	}
	modeOK := r.Mode.Valid()
	if !modeOK {
		add("mode", nil, "%s", oneOf(string(r.Mode), modeNames()...))
	}
	remote := modeOK && r.Mode != ModeLocalOnly

	// transport
	if !in(r.Transport.Type, transportNames()...) {
		add("transport.type", nil, "%s", oneOf(r.Transport.Type, transportNames()...))
	}
	if host, err := checkAddr(r.Transport.Addr); err != nil {
		add("transport.addr", nil, "%s", err.Error())
	} else if modeOK && !remote && !isLoopback(host) {
		add("transport.addr", []string{"mode"},
			"listening on %q goes beyond loopback, which requires mode %s or %s (mode is %s)",
			r.Transport.Addr, ModeRemoteEnabled, ModeDistributedCluster, r.Mode)
	}

	// security
	if ra := r.Security.RequireAuth; ra != nil && !*ra && remote {
		add("security.requireAuth", []string{"mode"},
			"must be true in %s mode (authentication may be off only in %s mode)", r.Mode, ModeLocalOnly)
	}
	seen := make(map[string]int, len(r.Security.DefaultRoles))
	for i, role := range r.Security.DefaultRoles {
		field := fmt.Sprintf("security.defaultRoles[%d]", i)
		switch j, dup := seen[role]; {
		case role == "":
			add(field, nil, "must not be empty")
		case strings.ContainsFunc(role, isSpace):
			add(field, nil, "must not contain spaces, got %q", role)
		case dup:
			add(field, nil, "duplicate role %q (also at index %d)", role, j)
		default:
			seen[role] = i
		}
	}

	// tls
	if (r.TLS.Cert == "") != (r.TLS.Key == "") {
		field := "tls.key"
		if r.TLS.Cert == "" {
			field = "tls.cert"
		}
		add(field, nil, "tls.cert and tls.key must be set together")
	}

	// deployment
	if m := r.Deployment.Mode; m != "" {
		switch {
		case !m.Valid():
			add("deployment.mode", nil, "%s", oneOf(string(m), modeNames()...))
		case modeOK && m != r.Mode:
			add("deployment.mode", []string{"mode"}, "must equal mode (%s), got %q", r.Mode, m)
		}
	}
	if r.Deployment.AllowRemoteSessions && modeOK && !remote {
		add("deployment.allowRemoteSessions", []string{"mode"},
			"may be true only in mode %s or %s (mode is %s)", ModeRemoteEnabled, ModeDistributedCluster, r.Mode)
	}
	if n := r.Deployment.MaxConcurrentTasks; n < MaxConcurrentTasksMin || n > MaxConcurrentTasksMax {
		add("deployment.maxConcurrentTasks", nil, "must be between %d and %d, got %d",
			MaxConcurrentTasksMin, MaxConcurrentTasksMax, n)
	}

	// engine
	lease, hb := r.Engine.LeaseDuration, r.Engine.HeartbeatInterval
	if lease <= 0 {
		add("engine.leaseDuration", nil, "must be positive, got %s", lease)
	}
	if hb <= 0 {
		add("engine.heartbeatInterval", nil, "must be positive, got %s", hb)
	}
	if lease > 0 && hb > 0 && hb >= lease {
		add("engine.heartbeatInterval", []string{"engine.leaseDuration"},
			"must be shorter than engine.leaseDuration (%s), got %s", lease, hb)
	}
	if n := r.Engine.MaxAttempts; n < MaxAttemptsMin || n > MaxAttemptsMax {
		add("engine.maxAttempts", nil, "must be between %d and %d, got %d", MaxAttemptsMin, MaxAttemptsMax, n)
	}

	// store
	switch r.Store.Driver {
	case DriverSQLite:
	case DriverPostgres:
		add("store.driver", nil, "postgres is not supported yet; use sqlite")
	default:
		add("store.driver", nil, "must be sqlite, got %q", r.Store.Driver)
	}
	if strings.HasPrefix(r.Store.Path, "~") {
		add("store.path", nil, "%q: \"~\" is not expanded; give an absolute path or one relative to the home directory", r.Store.Path)
	}
	if strings.ContainsRune(r.Store.Path, 0) {
		add("store.path", nil, "must not contain a NUL byte")
	}
	if !in(r.Store.Synchronous, synchronousNames()...) {
		add("store.synchronous", nil, "%s", oneOf(r.Store.Synchronous, synchronousNames()...))
	}

	r.validateAgents(add)

	// log
	if !in(r.Log.Level, levelNames()...) {
		add("log.level", nil, "%s", oneOf(r.Log.Level, levelNames()...))
	}
	if !in(r.Log.Format, formatNames()...) {
		add("log.format", nil, "%s", oneOf(r.Log.Format, formatNames()...))
	}
	return errs
}

// The enumerations, as functions so that no caller can change them.
func modeNames() []string {
	return []string{string(ModeLocalOnly), string(ModeRemoteEnabled), string(ModeDistributedCluster)}
}
func transportNames() []string {
	return []string{TransportLocal, TransportHTTP, TransportWebSocket, TransportGRPC}
}
func synchronousNames() []string { return []string{"FULL", "NORMAL"} }
func levelNames() []string       { return []string{"debug", "info", "warn", "error"} }
func formatNames() []string      { return []string{"text", "json"} }

func in(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// oneOf words the error for a value outside an enumeration.
func oneOf(got string, set ...string) string {
	var b strings.Builder
	b.WriteString("must be ")
	for i, v := range set {
		switch {
		case i == 0:
		case i == len(set)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(v)
	}
	fmt.Fprintf(&b, ", got %q", got)
	return b.String()
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xA0
}

// checkAddr checks a listen address and returns its host.
func checkAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("must be host:port such as %q, got %q", DefaultAddr, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("port must be a number between 0 and 65535, got %q", port)
	}
	return host, nil
}

// isLoopback reports whether a listen host stays on this machine. Host
// names other than localhost are not resolved and count as beyond loopback.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
