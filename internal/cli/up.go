package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/login"
	"github.com/coderclaw/coderclaw/internal/node"
)

func (a *app) upCommand() *cobra.Command {
	var home, addr string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a node in the foreground",
		Long: "Run a node in the foreground: the embedded SQLite store under --home, the engine, and the HTTP API.\n" +
			"Reads HOME/.coderClaw/runtime.yaml when present. Stops cleanly on SIGINT or SIGTERM;\n" +
			"tasks still running then are recovered at the next start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.tuneGC()
			if home == "" {
				home = a.env.Getenv(config.EnvHome)
			}
			if home == "" {
				home = config.DefaultHome()
			}
			rc, err := config.Load(config.RuntimePath(home))
			if err != nil {
				return err
			}
			if err := rc.ApplyEnv(a.env.Getenv); err != nil {
				return err
			}
			if addr != "" {
				rc.Transport.Addr = addr
			}
			if err := rc.Validate(); err != nil {
				return err
			}
			if a.json() {
				rc.Log.Format = "json"
			}
			log := newLogger(a.env.Stderr, rc.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			n, err := node.Start(ctx, node.Config{
				Home: home, Runtime: rc, Version: a.env.Version, Logger: log, Token: a.env.Getenv("CODERCLAW_TOKEN"),
				OIDC: login.OIDCConfig{
					Issuer: a.env.Getenv("CODERCLAW_OIDC_ISSUER"), ClientID: a.env.Getenv("CODERCLAW_OIDC_CLIENT_ID"),
					ClientSecret: a.env.Getenv("CODERCLAW_OIDC_CLIENT_SECRET"), RedirectURL: a.env.Getenv("CODERCLAW_OIDC_REDIRECT_URL"),
				},
				GitHub: login.GitHubConfig{ClientID: a.env.Getenv("CODERCLAW_GITHUB_CLIENT_ID")},
			})
			if err != nil {
				return err
			}
			var serveErr error
			select {
			case <-ctx.Done():
				log.Info("signal received; stopping", "drain", node.DrainTimeout)
			case serveErr = <-n.Done():
				log.Error("server stopped", "err", serveErr)
			}
			stopCtx, cancel := context.WithTimeout(context.Background(), node.DrainTimeout)
			defer cancel()
			if err := n.Stop(stopCtx); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			return serveErr
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "node home directory (default $CODERCLAW_HOME or ~/.coderclaw)")
	cmd.Flags().StringVar(&addr, "addr", "", "listen address HOST:PORT (default from runtime.yaml, 127.0.0.1:7420)")
	return cmd
}

func newLogger(w interface{ Write([]byte) (int, error) }, l config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
