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
			a.tuneGC()
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
			fmt.Fprintf(a.env.Stdout, "tasks:        %d (concurrency %d, synchronous=%s, auth=%v)\n", res.Tasks, res.Concurrency, res.Synchronous, res.Auth)
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
	f.BoolVar(&cfg.Auth, "auth", false, "send every call through authentication (API token), authorization and the audit log")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.AddCommand(engineCmd, a.benchAPICommand())
	return cmd
}

func (a *app) benchAPICommand() *cobra.Command {
	var cfg bench.APIConfig
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Load a running node through its API from this process",
		Long: "Load the node named by --node through the transport chosen with --transport: submit -> first\n" +
			"streamed event latency one task at a time, --streams tasks followed at once (every event\n" +
			"checked), and submit+state pairs from --concurrency workers.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.tuneGC()
			rt, err := a.client()
			if err != nil {
				return err
			}
			cfg.Runtime, cfg.Transport = rt, a.transport
			res, err := bench.API(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if a.json() {
				a.printJSON(res)
				return nil
			}
			w := a.env.Stdout
			fmt.Fprintf(w, "transport:    %s (%s)\n", res.Transport, a.node)
			fmt.Fprintf(w, "first event:  p50 %.2f ms, p99 %.2f ms (%d tasks one at a time)\n", res.FirstEventP50, res.FirstEventP99, res.LatencySamples)
			fmt.Fprintf(w, "streams:      %d at once, %d events, %d errors (%.2f s)\n", res.Streams, res.StreamEvents, res.StreamErrors, res.StreamsSeconds)
			fmt.Fprintf(w, "throughput:   %.0f submit+state pairs/s = %.0f requests/s, %d errors (%d pairs, %d workers)\n",
				res.PairsPerSecond, res.RequestsPerSec, res.RequestErrors, res.Requests, res.Concurrency)
			if res.StreamErrors > 0 || res.RequestErrors > 0 {
				return fmt.Errorf("%d stream errors and %d request errors", res.StreamErrors, res.RequestErrors)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.LatencySamples, "latency-samples", 500, "tasks submitted one at a time for the first-event latency")
	f.IntVar(&cfg.Streams, "streams", 1000, "tasks followed at once")
	f.IntVar(&cfg.Requests, "requests", 5000, "submit+state pairs for the throughput phase")
	f.IntVar(&cfg.Concurrency, "concurrency", 32, "workers sending submit+state pairs")
	return cmd
}
