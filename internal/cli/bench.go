package cli

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/coderclaw/coderclaw/internal/bench"
)

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure this machine's figures"}
	var (
		cfg        bench.Config
		cpuProfile string
	)
	engineCmd := &cobra.Command{
		Use:   "engine",
		Short: "Run noop tasks through the full lifecycle on a fresh temporary store",
		Long: "Run --tasks noop tasks through the full lifecycle (every event persisted) on a fresh temporary\n" +
			"SQLite store and print tasks/s, then run --latency-samples tasks one at a time and print the\n" +
			"submit-to-completed latency percentiles and the peak RSS.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.DiscardHandler)
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Engine(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(res)
				return nil
			}
			fmt.Fprintf(a.env.Stdout, "tasks:        %d (concurrency %d, synchronous=%s)\n", res.Tasks, res.Concurrency, res.Synchronous)
			fmt.Fprintf(a.env.Stdout, "throughput:   %.0f tasks/s (%.2f s)\n", res.TasksPerSecond, res.Seconds)
			fmt.Fprintf(a.env.Stdout, "latency:      p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d tasks one at a time)\n", res.LatencyP50, res.LatencyP99, res.LatencyMax, res.LatencySamples)
			fmt.Fprintf(a.env.Stdout, "peak RSS:     %.1f MiB\n", res.PeakRSSMiB)
			return nil
		},
	}
	f := engineCmd.Flags()
	f.IntVar(&cfg.Tasks, "tasks", 20000, "tasks for the throughput phase")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "submitting goroutines and maxConcurrentTasks")
	f.IntVar(&cfg.LatencySamples, "latency-samples", 1000, "tasks run one at a time for latency")
	f.StringVar(&cfg.Synchronous, "synchronous", "FULL", "SQLite synchronous mode: FULL or NORMAL")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.AddCommand(engineCmd)
	return cmd
}
