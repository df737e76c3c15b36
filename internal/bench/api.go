package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coderclaw/coderclaw"
)

// APIConfig sets up a run of the API benchmark against a running node.
type APIConfig struct {
	// Runtime is the client of the node under test (any transport).
	Runtime coderclaw.Runtime
	// Transport names it in the result.
	Transport string
	// LatencySamples is the number of tasks submitted one at a time to
	// measure submit -> first streamed event (default 500).
	LatencySamples int
	// Streams is the number of tasks followed at once (default 1000).
	Streams int
	// Requests is the number of submit+state pairs for the throughput
	// phase, sent by Concurrency workers (defaults 5000 and 32).
	Requests    int
	Concurrency int
}

// APIResult is what a run of the API benchmark measured.
type APIResult struct {
	Transport        string  `json:"transport"`
	LatencySamples   int     `json:"latency_samples"`
	FirstEventP50    float64 `json:"first_event_ms_p50"`
	FirstEventP99    float64 `json:"first_event_ms_p99"`
	Streams          int     `json:"streams"`
	StreamEvents     int64   `json:"stream_events"`
	StreamErrors     int64   `json:"stream_errors"`
	StreamsSeconds   float64 `json:"streams_seconds"`
	Requests         int     `json:"requests"`
	Concurrency      int     `json:"concurrency"`
	PairsPerSecond   float64 `json:"submit_state_pairs_per_s"`
	RequestsPerSec   float64 `json:"requests_per_s"`
	RequestErrors    int64   `json:"request_errors"`
	ThroughputSecond float64 `json:"throughput_seconds"`
}

// API runs the API benchmark: latency to the first streamed event, many
// concurrent streams checked for lost events, and submit+state throughput.
func API(ctx context.Context, cfg APIConfig) (APIResult, error) {
	if cfg.LatencySamples == 0 {
		cfg.LatencySamples = 500
	}
	if cfg.Streams == 0 {
		cfg.Streams = 1000
	}
	if cfg.Requests == 0 {
		cfg.Requests = 5000
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 32
	}
	rt := cfg.Runtime
	res := APIResult{Transport: cfg.Transport, LatencySamples: cfg.LatencySamples, Streams: cfg.Streams,
		Requests: cfg.Requests, Concurrency: cfg.Concurrency}

	// 1. Submit -> first streamed event, one task at a time.
	samples := make([]time.Duration, 0, cfg.LatencySamples)
	for range cfg.LatencySamples {
		start := time.Now()
		t, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "first-event"})
		if err != nil {
			return res, fmt.Errorf("submit: %w", err)
		}
		sctx, cancel := context.WithCancel(ctx)
		for _, err := range rt.Stream(sctx, t.ID, 0) {
			if err != nil {
				cancel()
				return res, fmt.Errorf("stream: %w", err)
			}
			break
		}
		cancel()
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	res.FirstEventP50 = ms(percentile(samples, 0.50))
	res.FirstEventP99 = ms(percentile(samples, 0.99))

	// 2. Many concurrent streams: every event arrives, in order, once.
	ids := make([]string, cfg.Streams)
	for i := range ids {
		t, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "shell", Input: fmt.Sprintf("echo one %d; echo two; echo three", i)})
		if err != nil {
			return res, fmt.Errorf("submit stream task: %w", err)
		}
		ids[i] = t.ID
	}
	var (
		events, errs atomic.Int64
		wg           sync.WaitGroup
	)
	start := time.Now()
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(1)
			var last coderclaw.Event
			for ev, err := range rt.Stream(ctx, id, 0) {
				if err != nil || ev.Seq != next {
					errs.Add(1)
					return
				}
				next++
				last = ev
				events.Add(1)
			}
			if last.Status != coderclaw.StatusCompleted {
				errs.Add(1)
				return
			}
			t, err := rt.Task(ctx, id)
			if err != nil || t.LastSeq != last.Seq {
				errs.Add(1) // an event the stream never delivered
			}
		}()
	}
	wg.Wait()
	res.StreamsSeconds = time.Since(start).Seconds()
	res.StreamEvents, res.StreamErrors = events.Load(), errs.Load()

	// 3. Throughput of submit + state pairs.
	var (
		next   atomic.Int64
		reqErr atomic.Int64
	)
	start = time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cfg.Requests) {
				t, err := rt.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "load"})
				if err != nil {
					reqErr.Add(1)
					continue
				}
				if _, err := rt.Task(ctx, t.ID); err != nil {
					reqErr.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.ThroughputSecond = elapsed.Seconds()
	res.PairsPerSecond = float64(cfg.Requests) / elapsed.Seconds()
	res.RequestsPerSec = 2 * res.PairsPerSecond
	res.RequestErrors = reqErr.Load()
	return res, nil
}
