package grpc

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// latencies collects per-operation durations and reports their
// percentiles as benchmark metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), prefix+"p50-ms")
	b.ReportMetric(at(0.99), prefix+"p99-ms")
}

// benchClient returns a gRPC Client for a fresh node on loopback.
func benchClient(b *testing.B) (*Client, *nodetest.Node) {
	n := nodetest.New(b)
	return newClient(b, serve(b, NewHandler(n, HandlerOptions{})), ProtocolGRPC), n
}

// BenchmarkSubmitToFirstEvent measures, over gRPC, the time from Submit to
// the first event of the task's stream (a unary call, then a stream
// opened and its first message), and to the running status (the
// scheduler's dispatch as a client sees it).
func BenchmarkSubmitToFirstEvent(b *testing.B) {
	c, _ := benchClient(b)
	ctx := context.Background()
	var first, running latencies
	for b.Loop() {
		start := time.Now()
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for ev, err := range c.Stream(ctx, task.ID, 0) {
			if err != nil {
				b.Fatal(err)
			}
			if n++; n == 1 {
				first.add(time.Since(start))
			}
			if ev.Status == coderclaw.StatusRunning {
				running.add(time.Since(start))
				break
			}
		}
	}
	first.report(b, "first-")
	running.report(b, "running-")
}

// BenchmarkSubmitAndState measures a unary Submit followed by a GetTask
// over gRPC, one client at a time and from parallel goroutines sharing one
// Client (one HTTP/2 connection).
func BenchmarkSubmitAndState(b *testing.B) {
	op := func(c *Client, ctx context.Context) error {
		task, err := c.Submit(ctx, coderclaw.SubmitRequest{AgentID: "noop", Input: "bench"})
		if err != nil {
			return err
		}
		_, err = c.Task(ctx, task.ID)
		return err
	}
	b.Run("serial", func(b *testing.B) {
		c, _ := benchClient(b)
		ctx := context.Background()
		var lat latencies
		for b.Loop() {
			start := time.Now()
			if err := op(c, ctx); err != nil {
				b.Fatal(err)
			}
			lat.add(time.Since(start))
		}
		lat.report(b, "")
	})
	b.Run("parallel", func(b *testing.B) {
		c, _ := benchClient(b)
		ctx := context.Background()
		var lat latencies
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				start := time.Now()
				if err := op(c, ctx); err != nil {
					b.Error(err)
					return
				}
				lat.add(time.Since(start))
			}
		})
		lat.report(b, "")
	})
}
