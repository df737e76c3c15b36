// Package bench measures a node's engine: task throughput through the full
// lifecycle and submit-to-completed latency, on a fresh store in a
// temporary directory, with every event persisted.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/agent"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/engine"
	"github.com/coderclaw/coderclaw/internal/identity"
	"github.com/coderclaw/coderclaw/internal/security"
	"github.com/coderclaw/coderclaw/internal/store/sqlite"
)

// Config sets up a run. Zero fields take the defaults.
type Config struct {
	// Tasks is the number of noop tasks for the throughput phase (default
	// 20000).
	Tasks int
	// Concurrency is the number of submitting goroutines and the engine's
	// maxConcurrentTasks (default 64).
	Concurrency int
	// LatencySamples is the number of tasks run one at a time to measure
	// latency (default 1000, at most Tasks).
	LatencySamples int
	// Synchronous is the SQLite sync mode (default FULL).
	Synchronous string
	// Dir is where the temporary store goes (default os.TempDir()).
	Dir    string
	Logger *slog.Logger
	// Auth sends every call through the node's access seam: an API token
	// authenticated by the identity service, the security policy's
	// authorizer, and the audit log recording each decision.
	Auth bool
}

// Result is what a run measured.
type Result struct {
	Tasks          int     `json:"tasks"`
	Concurrency    int     `json:"concurrency"`
	Seconds        float64 `json:"seconds"`
	TasksPerSecond float64 `json:"tasks_per_s"`
	LatencySamples int     `json:"latency_samples"`
	LatencyP50     float64 `json:"latency_ms_p50"`
	LatencyP99     float64 `json:"latency_ms_p99"`
	LatencyMax     float64 `json:"latency_ms_max"`
	Events         int64   `json:"events"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	Synchronous    string  `json:"synchronous"`
	Auth           bool    `json:"auth"`
}

// Engine runs the engine benchmark.
func Engine(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Tasks == 0 {
		cfg.Tasks = 20000
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 64
	}
	if cfg.LatencySamples == 0 {
		cfg.LatencySamples = 1000
	}
	cfg.LatencySamples = min(cfg.LatencySamples, cfg.Tasks)
	if cfg.Synchronous == "" {
		cfg.Synchronous = "FULL"
	}
	switch {
	case cfg.Tasks < 1:
		return Result{}, fmt.Errorf("tasks: %d must be positive", cfg.Tasks)
	case cfg.Concurrency < 1 || cfg.Concurrency > 10000:
		return Result{}, fmt.Errorf("concurrency: %d is outside [1, 10000]", cfg.Concurrency)
	}
	dir, err := os.MkdirTemp(cfg.Dir, "coderclaw-bench-")
	if err != nil {
		return Result{}, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "bench.db"), Synchronous: cfg.Synchronous, Logger: cfg.Logger})
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	reg := agent.NewRegistry()
	if err := reg.Register(agent.NoopAgent(), agent.Noop{}); err != nil {
		return Result{}, err
	}
	eng, err := engine.New(engine.Config{
		Store: st, Agents: reg, NodeID: "bench", MaxConcurrentTasks: cfg.Concurrency,
		WorkDir: filepath.Join(dir, "work"), Logger: cfg.Logger,
	})
	if err != nil {
		return Result{}, err
	}
	if err := eng.Start(ctx); err != nil {
		return Result{}, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Stop(stopCtx)
	}()

	res := Result{Tasks: cfg.Tasks, Concurrency: cfg.Concurrency, Synchronous: cfg.Synchronous, Auth: cfg.Auth}
	var rt coderclaw.Runtime = eng
	if cfg.Auth {
		guarded, authCtx, stop, err := withAuth(ctx, st, eng)
		if err != nil {
			return res, err
		}
		defer stop()
		rt, ctx = guarded, authCtx
	}
	if err := throughput(ctx, rt, eng, cfg, &res); err != nil {
		return res, err
	}
	if err := latency(ctx, rt, cfg, &res); err != nil {
		return res, err
	}
	res.PeakRSSMiB = peakRSSMiB()
	return res, nil
}

// withAuth puts the access seam in front of the engine as a node does: a
// developer's API token, the default policy, and the audit log.
func withAuth(ctx context.Context, st *sqlite.Store, eng *engine.Engine) (coderclaw.Runtime, context.Context, func(), error) {
	ids, err := identity.New(identity.Config{Store: st.Identities(), CacheTTL: 2 * time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := ids.AddUser(ctx, "bench", []string{"developer"}); err != nil {
		return nil, nil, nil, err
	}
	secret, _, err := ids.CreateToken(ctx, "bench", "bench", 0)
	if err != nil {
		return nil, nil, nil, err
	}
	al, err := audit.New(audit.Config{Store: st.AuditLog(), Linger: 10 * time.Millisecond})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := al.Start(ctx); err != nil {
		return nil, nil, nil, err
	}
	rt := access.Guard(eng, ids, security.NewAuthorizer(security.Default(), nil), access.WithAuditor(al))
	authCtx := access.WithCredentials(ctx, access.Credentials{Token: secret, RemoteAddr: "127.0.0.1:1"})
	return rt, authCtx, func() { _ = al.Stop(context.Background()) }, nil
}

// throughput submits cfg.Tasks noop tasks from cfg.Concurrency goroutines
// and waits until every one completed.
func throughput(ctx context.Context, rt coderclaw.Runtime, eng *engine.Engine, cfg Config, res *Result) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, cfg.Concurrency)
	)
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cfg.Tasks) {
				if _, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "bench"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for {
		st, err := eng.Status(ctx)
		if err != nil {
			return err
		}
		done := st.Tasks[coderclaw.StatusCompleted]
		if failed := st.Tasks[coderclaw.StatusFailed]; failed > 0 {
			return fmt.Errorf("%d benchmark tasks failed", failed)
		}
		if done >= cfg.Tasks {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.TasksPerSecond = float64(cfg.Tasks) / elapsed.Seconds()
	return nil
}

// latency runs cfg.LatencySamples tasks one at a time and measures from
// Submit to the completed event reaching a stream.
func latency(ctx context.Context, eng coderclaw.Runtime, cfg Config, res *Result) error {
	samples := make([]time.Duration, 0, cfg.LatencySamples)
	for range cfg.LatencySamples {
		start := time.Now()
		t, err := eng.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "latency"})
		if err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		var last coderclaw.Event
		for ev, err := range eng.Stream(ctx, t.ID, 0) {
			if err != nil {
				return fmt.Errorf("stream: %w", err)
			}
			last = ev
			res.Events++
		}
		if last.Status != coderclaw.StatusCompleted {
			return errors.New("latency task did not complete")
		}
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	res.LatencySamples = len(samples)
	res.LatencyP50 = ms(percentile(samples, 0.50))
	res.LatencyP99 = ms(percentile(samples, 0.99))
	res.LatencyMax = ms(samples[len(samples)-1])
	return nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
