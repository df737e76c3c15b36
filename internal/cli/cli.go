// Package cli is the coderclaw command line: `coderclaw up` runs a node in
// the foreground, every other command talks to a node through the HTTP
// client (a coderclaw.Runtime), so the CLI sees exactly what any remote
// client sees. Every command prints text for people or, with
// --output json, JSON for programs.
//
// Exit codes: 0 success, 1 failure (including a task that failed), 2 a
// usage error, 3 a task that was cancelled.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw"
	grpctransport "github.com/coderclaw/coderclaw/transport/grpc"
	httptransport "github.com/coderclaw/coderclaw/transport/http"
	wstransport "github.com/coderclaw/coderclaw/transport/ws"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitCancelled = 3
)

// DefaultNode is the node the CLI talks to when neither --node nor
// CODERCLAW_NODE says otherwise.
const DefaultNode = "http://127.0.0.1:7420"

// Env is the process environment the CLI runs in.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Stdout is an interactive terminal.
	IsTerminal func() bool
	Version    string
	// Dir is the working directory, which `submit` takes the default
	// repository from; empty means the process's.
	Dir string
}

// app holds the global flags and the environment of one invocation.
type app struct {
	env       Env
	node      string
	output    string
	caFile    string
	transport string
	// closers release the clients a command opened.
	closers []io.Closer
}

// exitError carries an exit code out of a command without a message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the CLI with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func() bool { return false }
	}
	if env.Version == "" {
		env.Version = "dev"
	}
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	for _, c := range a.closers {
		_ = c.Close()
	}
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case isUsage(err):
		fmt.Fprintf(env.Stderr, "error: %v\n", err)
		fmt.Fprintf(env.Stderr, "Run 'coderclaw --help' for usage.\n")
		return ExitUsage
	}
	a.printError(err)
	return ExitFailure
}

type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra's own argument and flag errors
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func (a *app) printError(err error) {
	msg := err.Error()
	var ce *coderclaw.Error
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	if a.output == "json" {
		body := struct {
			Error *coderclaw.Error `json:"error"`
		}{coderclaw.AsError(err)}
		a.printJSON(body)
		return
	}
	fmt.Fprintf(a.env.Stderr, "error: %s\n", msg)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "coderclaw",
		Short:         "CoderClaw: a runtime for AI coding agents",
		Long:          "CoderClaw runs coding tasks with agents, each through a persisted, audited lifecycle.\nRun `coderclaw up` to start a node; the other commands talk to it.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       a.env.Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "text" && a.output != "json" {
				return usagef("--output: want text or json, got %q", a.output)
			}
			return nil
		},
	}
	defNode := a.env.Getenv("CODERCLAW_NODE")
	if defNode == "" {
		defNode = DefaultNode
	}
	root.PersistentFlags().StringVar(&a.node, "node", defNode, "URL of the node to talk to (env CODERCLAW_NODE)")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&a.transport, "transport", "http", "transport to the node: http, ws, grpc, connect or grpcweb")
	root.PersistentFlags().StringVar(&a.caFile, "ca-file", a.env.Getenv("CODERCLAW_CA_FILE"), "PEM file of the CA that signed an https node's certificate (env CODERCLAW_CA_FILE)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.upCommand(),
		a.submitCommand(),
		a.tasksCommand(),
		a.taskCommand(),
		a.agentsCommand(),
		a.skillsCommand(),
		a.newSkillCmd(),
		a.statusCommand(),
		a.benchCommand(),
		a.userCommand(),
		a.tokenCommand(),
		a.deviceCommand(),
		a.sessionCommand(),
		a.auditCommand(),
		a.loginCommand(),
	)
	return root
}

// tuneGC trades memory for shorter pauses in a long-running node or a
// benchmark: the collector runs when the heap has grown by 400% (Go's
// default is 100%), unless GOGC says otherwise. The node's heap stays small
// (tens of MiB), and collections in the tail of request latency are what
// this avoids.
func (a *app) tuneGC() {
	if a.env.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// client returns the runtime of the node named by --node, over the
// transport named by --transport.
func (a *app) client() (coderclaw.Runtime, error) {
	token := a.env.Getenv("CODERCLAW_TOKEN")
	ua := "coderclaw-cli/" + a.env.Version
	var hc *http.Client
	if a.caFile != "" {
		var err error
		if hc, err = httpClientWithCA(a.caFile); err != nil {
			return nil, err
		}
	}
	var (
		rt  coderclaw.Runtime
		err error
	)
	switch a.transport {
	case "http":
		opts := []httptransport.ClientOption{httptransport.WithUserAgent(ua), httptransport.WithToken(token)}
		if hc != nil {
			opts = append(opts, httptransport.WithHTTPClient(hc))
		}
		rt, err = httptransport.NewClient(a.node, opts...)
	case "grpc", "connect", "grpcweb":
		opts := []grpctransport.ClientOption{grpctransport.WithUserAgent(ua), grpctransport.WithToken(token),
			grpctransport.WithProtocol(grpctransport.Protocol(a.transport))}
		if hc != nil {
			opts = append(opts, grpctransport.WithHTTPClient(hc))
		}
		rt, err = grpctransport.NewClient(a.node, opts...)
	case "ws":
		u, perr := url.Parse(a.node)
		if perr != nil {
			return nil, usagef("--node: %v", perr)
		}
		switch u.Scheme {
		case "http":
			u.Scheme = "ws"
		case "https":
			u.Scheme = "wss"
		}
		u.Path = strings.TrimRight(u.Path, "/") + wstransport.DefaultPath
		opts := []wstransport.ClientOption{wstransport.WithHeader(wsHeader(ua, token))}
		if hc != nil {
			opts = append(opts, wstransport.WithHTTPClient(hc))
		}
		c, derr := wstransport.Dial(context.Background(), u.String(), opts...)
		if derr != nil {
			return nil, derr
		}
		a.closers = append(a.closers, c)
		rt = c
	default:
		return nil, usagef("--transport: want http, ws, grpc, connect or grpcweb, got %q", a.transport)
	}
	if err != nil {
		return nil, usagef("--node: %v", err)
	}
	return rt, nil
}

// wsHeader is the handshake header of a WebSocket client.
func wsHeader(ua, token string) http.Header {
	h := http.Header{"User-Agent": {ua}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// httpClientWithCA returns an HTTP client that trusts the CA certificates
// in a PEM file.
func httpClientWithCA(file string) (*http.Client, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--ca-file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("--ca-file %s: no PEM certificate in it", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func (a *app) printJSON(v any) {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *app) json() bool { return a.output == "json" }
