// Package metrics measures a CoderClaw node for Prometheus.
//
// A Metrics value owns its own prometheus.Registry (never the global one),
// so any number of nodes, tests and benchmarks can live in one process. It
// is the engine's Observer (submit latency, transitions and their store
// latency by target status, active streams), records the SQLite store's
// group commits through ObserveCommit, and reads the number of tasks in each
// status from the store at scrape time through Options.Counts, so those
// gauges are always exact, even across nodes sharing one database. Handler
// serves everything in the Prometheus exposition formats, with the Go
// runtime and process metrics.
//
// Every metric name starts with coderclaw_:
//
//	coderclaw_tasks{status}                        gauge, read at scrape time
//	coderclaw_queue_depth                          gauge, pending tasks, read at scrape time
//	coderclaw_submit_duration_seconds              histogram, storing a submission
//	coderclaw_transitions_total{to}                counter, tasks that entered status "to"
//	coderclaw_transition_duration_seconds{to}      histogram, the store write of a transition
//	coderclaw_streams_active                       gauge, open task streams
//	coderclaw_store_commit_batch_size              histogram, writes per group commit
//	coderclaw_store_commit_duration_seconds        histogram, one group commit
//
// Duration buckets run from 25µs to 10s in steps of about 2x; batch-size
// buckets from 1 to 1024 in steps of 2x.
//
// All methods are safe for concurrent use and never block: the recording
// methods (the Observer's and ObserveCommit) cost an atomic add or two and,
// for the known statuses, allocate nothing. They are also safe on a nil *Metrics, which records
// nothing, so a node without metrics can pass a nil value.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/engine"
)

// DefaultCountsTimeout bounds one call of Options.Counts during a scrape.
const DefaultCountsTimeout = 5 * time.Second

// Options configures New. The zero value is usable: it measures everything
// except the scrape-time task gauges.
type Options struct {
	// Counts returns the number of tasks in each status (the store's
	// Counts). It is called once per scrape for coderclaw_tasks and
	// coderclaw_queue_depth; nil leaves those two out. A failing call
	// leaves them out of that scrape, logs the error and counts it in
	// promhttp_metric_handler_errors_total; the other metrics are still
	// served.
	Counts func(ctx context.Context) (map[coderclaw.Status]int, error)
	// CountsTimeout bounds one call of Counts; zero means
	// DefaultCountsTimeout.
	CountsTimeout time.Duration
	// Logger receives scrape errors; nil discards them.
	Logger *slog.Logger
}

// Metrics records a node's measurements and serves them. Create it with
// New.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	submitDur     prometheus.Histogram
	transitions   *prometheus.CounterVec
	transitionDur *prometheus.HistogramVec
	// byStatus holds the children of transitions and transitionDur for each
	// status, resolved once so that recording costs no label lookup.
	byStatus    [numStatuses]statusMetrics
	streams     prometheus.Gauge
	commitBatch prometheus.Histogram
	commitDur   prometheus.Histogram
}

type statusMetrics struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

var _ engine.Observer = (*Metrics)(nil)

// numStatuses is the number of task statuses; statusIndex maps each to
// its slot.
const numStatuses = 7

func statusIndex(s coderclaw.Status) int {
	switch s {
	case coderclaw.StatusPending:
		return 0
	case coderclaw.StatusPlanning:
		return 1
	case coderclaw.StatusRunning:
		return 2
	case coderclaw.StatusWaiting:
		return 3
	case coderclaw.StatusCompleted:
		return 4
	case coderclaw.StatusFailed:
		return 5
	case coderclaw.StatusCancelled:
		return 6
	}
	return -1
}

// durationBuckets suit latencies from a fraction of a millisecond (an
// in-memory path, a batched commit) to seconds (a stalled disk).
func durationBuckets() []float64 { return prometheus.ExponentialBucketsRange(25e-6, 10, 20) }

// New returns a Metrics with its own registry holding the metrics of the
// package documentation plus the Go runtime and process collectors.
func New(opts Options) *Metrics {
	if opts.CountsTimeout <= 0 {
		opts.CountsTimeout = DefaultCountsTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		submitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coderclaw_submit_duration_seconds",
			Help:    "Time to store a task submission (the store write, not validation).",
			Buckets: durationBuckets(),
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coderclaw_transitions_total",
			Help: "Tasks that entered a status, by that status (to).",
		}, []string{"to"}),
		transitionDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coderclaw_transition_duration_seconds",
			Help:    "Time to store a transition, by target status (to); one observation per store write, which may move several tasks (a claim).",
			Buckets: durationBuckets(),
		}, []string{"to"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coderclaw_streams_active",
			Help: "Task event streams open on this node.",
		}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coderclaw_store_commit_batch_size",
			Help:    "Write requests committed together in one store transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coderclaw_store_commit_duration_seconds",
			Help:    "Time of one group commit of the store, from its first statement to the end of COMMIT.",
			Buckets: durationBuckets(),
		}),
	}
	for _, s := range coderclaw.Statuses() {
		m.byStatus[statusIndex(s)] = statusMetrics{
			count: m.transitions.WithLabelValues(string(s)),
			dur:   m.transitionDur.WithLabelValues(string(s)),
		}
	}
	m.reg.MustRegister(m.submitDur, m.transitions, m.transitionDur, m.streams, m.commitBatch, m.commitDur,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Counts != nil {
		m.reg.MustRegister(newTaskCollector(opts.Counts, opts.CountsTimeout))
	}
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            errorLog{opts.Logger},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
	}))
	return m
}

// Handler serves the metrics for GET /metrics in the format the scraper
// negotiates (text, or protobuf), compressed when it asks. A nil Metrics
// serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// Registry returns the registry behind Handler, for components that add
// their own collectors (names should start with coderclaw_); nil for a nil
// Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Submitted records a stored submission and how long storing it took.
func (m *Metrics) Submitted(d time.Duration) {
	if m == nil {
		return
	}
	m.submitDur.Observe(d.Seconds())
}

// Transitioned records n tasks entering status to, with one observation of
// the store write's duration d.
func (m *Metrics) Transitioned(to coderclaw.Status, n int, d time.Duration) {
	if m == nil || n <= 0 {
		return
	}
	if i := statusIndex(to); i >= 0 {
		m.byStatus[i].count.Add(float64(n))
		m.byStatus[i].dur.Observe(d.Seconds())
		return
	}
	m.transitions.WithLabelValues(string(to)).Add(float64(n))
	m.transitionDur.WithLabelValues(string(to)).Observe(d.Seconds())
}

// StreamStarted records a task stream opening.
func (m *Metrics) StreamStarted() {
	if m != nil {
		m.streams.Inc()
	}
}

// StreamEnded records a task stream closing.
func (m *Metrics) StreamEnded() {
	if m != nil {
		m.streams.Dec()
	}
}

// ObserveCommit records one group commit of the store: how many write
// requests it committed together and how long the transaction took.
func (m *Metrics) ObserveCommit(batch int, d time.Duration) {
	if m == nil {
		return
	}
	m.commitBatch.Observe(float64(batch))
	m.commitDur.Observe(d.Seconds())
}

// taskCollector reads the tasks by status at scrape time.
type taskCollector struct {
	counts  func(context.Context) (map[coderclaw.Status]int, error)
	timeout time.Duration
	tasks   *prometheus.Desc
	depth   *prometheus.Desc
}

func newTaskCollector(counts func(context.Context) (map[coderclaw.Status]int, error), timeout time.Duration) *taskCollector {
	return &taskCollector{
		counts:  counts,
		timeout: timeout,
		tasks: prometheus.NewDesc("coderclaw_tasks",
			"Tasks in the store by status, read at scrape time.", []string{"status"}, nil),
		depth: prometheus.NewDesc("coderclaw_queue_depth",
			"Tasks waiting to be claimed (status pending), read at scrape time.", nil, nil),
	}
}

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.depth
}

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.tasks, fmt.Errorf("count tasks: %w", err))
		return
	}
	for _, s := range coderclaw.Statuses() {
		ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	for s, n := range counts {
		if statusIndex(s) < 0 { // a status this build does not know: still show it
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), string(s))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(counts[coderclaw.StatusPending]))
}

// errorLog adapts a slog.Logger to promhttp's Logger.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error("metrics: scrape", "err", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
