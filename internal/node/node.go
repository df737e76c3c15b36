// Package node assembles a CoderClaw node from its configuration: the store,
// the agent registry, the engine and the HTTP server, in that order, and
// takes them down in reverse. It is what `coderclaw up` runs and what
// end-to-end tests start.
package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/agent/catalog"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/engine"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/login"
	"github.com/coderclaw/coderclaw/internal/metrics"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

// Config is what a node needs to start.
type Config struct {
	// Home is the node's home directory (database, node id, config).
	Home string
	// Runtime is the loaded runtime.yaml.
	Runtime config.Runtime
	// Version is reported by Status.
	Version string
	// Token is the operator's bearer token (CODERCLAW_TOKEN), which acts
	// as an admin; empty means none.
	Token string
	// OIDC and GitHub, when their client ids are set, offer sign-in at
	// /api/auth/oidc/... and /api/auth/github/... (CODERCLAW_OIDC_*,
	// CODERCLAW_GITHUB_CLIENT_ID). Only users that exist may sign in.
	OIDC   login.OIDCConfig
	GitHub login.GitHubConfig
	// IdentityCacheTTL bounds how long an authenticated token is trusted
	// without a store read (0: DefaultIdentityCacheTTL; negative: no cache).
	IdentityCacheTTL time.Duration
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
}

// Node is a running node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	store  *sqlite.Store
	engine *engine.Engine
	server *httptransport.Server
	ids    *identity.Service
	audit  *audit.Logger
	// catalog holds the agents and skills; closed after the engine.
	catalog *catalog.Catalog
	ws      *wstransport.Handler
	ln      net.Listener
	served  chan error
}

// Start opens the store, recovers and starts the engine, and listens.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc := cfg.Runtime
	if err := os.MkdirAll(cfg.Home, 0o700); err != nil {
		return nil, fmt.Errorf("create home %s: %w", cfg.Home, err)
	}
	// Policies load before anything starts: a bad file stops the node.
	confDir := filepath.Dir(config.RuntimePath(cfg.Home))
	pol, err := security.Load(security.Paths{
		Node: filepath.Join(confDir, "security.yaml"),
		Team: filepath.Join(confDir, "team-policy.yaml"),
	})
	if err != nil {
		return nil, fmt.Errorf("security policy: %w", err)
	}
	pol = pol.WithNodeEnforceTrust(rc.Security.EnforceTrust)
	nodeID, err := loadNodeID(cfg.Home)
	if err != nil {
		return nil, err
	}
	var st *sqlite.Store
	m := metrics.New(metrics.Options{
		Counts: func(ctx context.Context) (map[coderclaw.Status]int, error) { return st.Counts(ctx) },
		Logger: log.With("component", "metrics"),
	})
	st, err = sqlite.Open(ctx, sqlite.Config{
		Path: rc.Store.DBPath(cfg.Home), Synchronous: rc.Store.Synchronous, Logger: log,
		OnCommit: m.ObserveCommit,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := &Node{cfg: cfg, log: log, store: st, served: make(chan error, 1)}
	roles := map[string]bool{}
	for _, r := range pol.Roles() {
		roles[r.Name] = true
	}
	n.ids, err = identity.New(identity.Config{
		Store: st.Identities(), ValidRole: func(r string) bool { return roles[r] },
		AutoTrustLocal: pol.AutoTrustLocal(), Logger: log.With("component", "identity"),
		// A token or session revoked by `coderclaw token revoke`, which
		// writes the database beside the node, is refused within this.
		CacheTTL: cmp.Or(cfg.IdentityCacheTTL, DefaultIdentityCacheTTL),
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	authn := nodeAuthenticator(rc.AuthRequired(), cfg.Token, n.ids)
	var secrets []string
	if cfg.Token != "" {
		secrets = []string{cfg.Token}
	}
	n.audit, err = audit.New(audit.Config{Store: st.AuditLog(), Secrets: secrets, Linger: auditLinger, Logger: log.With("component", "audit")})
	if err == nil {
		err = n.audit.Start(ctx)
	}
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	authz := security.NewAuthorizer(pol, n.deviceTrust)
	n.catalog, err = catalog.Build(ctx, catalog.Config{
		Runtime: rc, Home: cfg.Home, Policy: pol, Subject: authz.Subject, Audit: n.audit,
		Logger: log.With("component", "agents"),
	})
	if err != nil {
		n.closeStore(ctx)
		return nil, fmt.Errorf("agents: %w", err)
	}
	n.engine, err = engine.New(engine.Config{
		Store: st, Agents: n.catalog.Registry, NodeID: nodeID,
		MaxConcurrentTasks: rc.Deployment.MaxConcurrentTasks,
		LeaseDuration:      rc.Engine.LeaseDuration,
		HeartbeatInterval:  rc.Engine.HeartbeatInterval,
		MaxAttempts:        rc.Engine.MaxAttempts,
		WorkDir:            filepath.Join(cfg.Home, "work"),
		Mode:               string(rc.Mode),
		Version:            cfg.Version,
		Logger:             log.With("component", "engine"),
		Observer:           m,
	})
	if err != nil {
		n.closeStore(ctx)
		return nil, err
	}
	if err := n.engine.Start(ctx); err != nil {
		n.closeStore(ctx)
		return nil, err
	}
	var certFile, keyFile string
	if rc.TLS.Enabled() {
		certFile, keyFile = rc.TLS.Path(cfg.Home, rc.TLS.Cert), rc.TLS.Path(cfg.Home, rc.TLS.Key)
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			n.stopEngine(ctx)
			return nil, fmt.Errorf("tls: load %s and %s: %w", certFile, keyFile, err)
		}
	}
	n.ln, err = net.Listen("tcp", rc.Transport.Addr)
	if err != nil {
		n.stopEngine(ctx)
		return nil, fmt.Errorf("listen on %s: %w", rc.Transport.Addr, err)
	}
	admin := func(ctx context.Context, p coderclaw.Principal) bool {
		sub, err := authz.Subject(ctx, p)
		return err == nil && pol.CheckPermission(sub, security.AdminAll).Allowed
	}
	rt := access.Guard(n.engine, authn, authz, access.WithAuditor(n.audit), access.WithIsolation(admin))
	mux := http.NewServeMux()
	mux.Handle("/", httptransport.NewHandler(rt, httptransport.HandlerOptions{
		Logger: log.With("component", "http"), Version: cfg.Version,
		Audit: &httptransport.AuditOptions{
			Store: st.AuditLog(), Authenticator: authn, Auditor: n.audit,
			Admin: admin,
		},
		Sessions: &httptransport.SessionOptions{Service: n.ids, Authenticator: authn, Admin: admin},
	}))
	mux.Handle("GET /openapi.json", httptransport.OpenAPIHandler())
	docs := httptransport.DocsHandler()
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/", docs)
	mux.Handle("GET /metrics", access.Authenticated(authn, m.Handler()))
	if err := n.mountLogin(ctx, mux, pol.Providers()); err != nil {
		n.stopEngine(ctx)
		return nil, err
	}
	rpc := grpctransport.Mount(mux, rt, grpctransport.HandlerOptions{Logger: log.With("component", "grpc")})
	n.ws = wstransport.NewHandler(rt, wstransport.HandlerOptions{Logger: log.With("component", "ws")})
	mux.Handle(wstransport.DefaultPath, n.ws)
	n.server = httptransport.NewServer(access.CaptureCredentials(mux), httptransport.ServerOptions{Logger: log})
	n.server.RegisterOnShutdown(rpc.EndStreams)
	scheme := "http"
	if certFile != "" {
		scheme = "https"
		go func() { n.served <- n.server.ServeTLS(n.ln, certFile, keyFile) }()
	} else {
		go func() { n.served <- n.server.Serve(n.ln) }()
	}
	log.Info("node listening", "addr", scheme+"://"+n.ln.Addr().String(), "node", nodeID, "mode", rc.Mode, "home", cfg.Home)
	return n, nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Engine is the node's runtime.
func (n *Node) Engine() *engine.Engine { return n.engine }

// Done receives the server's error if it stops serving on its own.
func (n *Node) Done() <-chan error { return n.served }

// Stop stops accepting requests, ends streams, drains running tasks until
// ctx ends (then leaves them for recovery), and closes the store.
func (n *Node) Stop(ctx context.Context) error {
	err := n.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = n.server.Close()
	}
	// WebSocket connections are hijacked: the HTTP server neither closes
	// nor waits for them.
	if werr := n.ws.Shutdown(ctx); werr != nil {
		n.log.Warn("websocket shutdown", "err", werr)
	}
	n.stopEngine(ctx)
	n.log.Info("node stopped")
	return err
}

func (n *Node) stopEngine(ctx context.Context) {
	if err := n.engine.Stop(ctx); err != nil {
		n.log.Error("stop engine", "err", err)
	}
	n.closeStore(ctx)
}

// closeStore stops the audit log, whose queue drains into the store, and
// closes the store.
func (n *Node) closeStore(ctx context.Context) {
	if n.catalog != nil {
		if err := n.catalog.Close(); err != nil {
			n.log.Error("close agents", "err", err)
		}
	}
	if err := n.audit.Stop(ctx); err != nil {
		n.log.Error("stop audit log", "err", err)
	}
	if err := n.store.Close(); err != nil {
		n.log.Error("close store", "err", err)
	}
}

// mountLogin offers the configured sign-in providers at /api/auth/. They
// need no credentials: they are how people get them.
func (n *Node) mountLogin(ctx context.Context, mux *http.ServeMux, listed []string) error {
	// security.yaml identity.providers, when present, says which providers
	// may be used at all.
	enabled := func(name string) bool { return len(listed) == 0 || slices.Contains(listed, name) }
	var providers []login.Provider
	if c := n.cfg.OIDC; c.ClientID != "" && enabled("oidc") {
		p, err := login.NewOIDC(ctx, c)
		if err != nil {
			return fmt.Errorf("oidc sign-in: %w", err)
		}
		providers = append(providers, p)
	}
	if c := n.cfg.GitHub; c.ClientID != "" && enabled("github") {
		p, err := login.NewGitHub(c)
		if err != nil {
			return fmt.Errorf("github sign-in: %w", err)
		}
		providers = append(providers, p)
	}
	if len(providers) == 0 {
		return nil
	}
	h, err := login.NewHandler(login.Config{Users: n.ids, Providers: providers, Logger: n.log.With("component", "login")})
	if err != nil {
		return err
	}
	mux.Handle("/api/auth/", h)
	return nil
}

// nodeAuthenticator decides who a request is: a CoderClaw API or session
// token (ccw_, ccs_) is looked up by the identity service; any other bearer
// token must be the operator's CODERCLAW_TOKEN; a request without one is the
// local user on a node that does not require authentication, and refused on
// one that does.
func nodeAuthenticator(required bool, operator string, ids *identity.Service) access.Authenticator {
	var op access.Authenticator = access.Refuse("invalid token")
	if operator != "" {
		op = access.NewToken(operator)
	}
	return access.Route(func(c access.Credentials) access.Authenticator {
		switch {
		case strings.HasPrefix(c.Token, "ccw_"), strings.HasPrefix(c.Token, "ccs_"):
			return ids
		case c.Token != "":
			return op
		case required:
			return access.Refuse("authentication required: send Authorization: Bearer TOKEN")
		}
		return access.Local{}
	})
}

// deviceTrust is the trust level of a principal's device.
func (n *Node) deviceTrust(ctx context.Context, p coderclaw.Principal) (security.TrustLevel, error) {
	if p.DeviceID == "" {
		return security.Untrusted, nil
	}
	d, err := n.ids.Device(ctx, p.DeviceID)
	if err != nil {
		return security.Untrusted, err
	}
	return security.ParseTrustLevel(string(d.Trust))
}

// loadNodeID returns the node's id, kept in home/node-id so that a
// restarted node recognises the tasks it held.
func loadNodeID(home string) (string, error) {
	path := filepath.Join(home, "node-id")
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	var raw [6]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("new node id: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	id := host + "-" + hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

// DefaultIdentityCacheTTL is how long an authenticated token is trusted
// without a store read: a revocation made by another process (the CLI
// beside the node) takes effect within it.
const DefaultIdentityCacheTTL = 2 * time.Second

// auditLinger lets the audit records of many requests share one write.
const auditLinger = 10 * time.Millisecond

// DrainTimeout is how long Stop lets running tasks finish on a signal
// before leaving them for recovery.
const DrainTimeout = 10 * time.Second
