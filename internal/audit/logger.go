package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coderclaw/coderclaw"
)

// Defaults for zero Config fields.
const (
	DefaultMaxBatch  = 256
	DefaultQueueSize = 4096
)

// ErrStopped is returned by a Logger that is not running.
var ErrStopped = errors.New("audit logger is not running")

// Config configures a Logger. A zero field means its documented default.
type Config struct {
	// Store receives the records. Required.
	Store Store
	// Secrets are values never to be written, wherever they appear in an
	// entry (the node's shared token, provider keys): see Redact.
	Secrets []string
	// MaxBatch bounds the entries of one Append; zero means 256.
	MaxBatch int
	// Linger is how long the flusher waits for more entries after a Post
	// before it appends, so that posts on a busy node share one write
	// (Record, whose caller waits, never lingers). Zero means none. Posted
	// entries not yet appended are lost if the process dies, lingering or
	// not.
	Linger time.Duration
	// QueueSize bounds the entries waiting for the flusher; a full queue
	// makes Record and Post wait. Zero means 4096.
	QueueSize int
	// Now stamps entries that have no time; nil means time.Now.
	Now func() time.Time
	// Logger receives the Logger's own logs (failed appends); nil
	// discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("Store: must be set")
	case c.MaxBatch < 1 || c.MaxBatch > 1<<16:
		return fmt.Errorf("MaxBatch: %d is outside [1, %d]", c.MaxBatch, 1<<16)
	case c.QueueSize < 1 || c.QueueSize > 1<<20:
		return fmt.Errorf("QueueSize: %d is outside [1, %d]", c.QueueSize, 1<<20)
	}
	for i, s := range c.Secrets {
		if s == "" {
			return fmt.Errorf("Secrets[%d]: must not be empty", i)
		}
	}
	return nil
}

// Logger is what request paths call to audit: Record and Post normalize
// and redact an entry in the caller's goroutine, then queue it for one
// flusher goroutine, which appends everything queued (up to MaxBatch) in
// one Store.Append while the next entries queue behind it. A burst of
// decisions therefore costs one transaction, and a caller waits at most for
// the append in flight and its own (with the SQLite store, for its group
// commit). Create it with New, Start it, and Stop it to flush. It is safe
// for concurrent use.
type Logger struct {
	cfg   Config
	store Store
	log   *slog.Logger
	queue chan item

	// mu guards state; senders counts the calls between a successful
	// enter and their send, so that Stop closes queue only after them.
	mu      sync.RWMutex
	state   int
	started bool
	senders sync.WaitGroup
	done    chan struct{}

	appended, failed, batches atomic.Uint64
}

// Logger states.
const (
	created = iota
	running
	stopped
)

// item is one queued entry; done, when set, receives the outcome.
type item struct {
	e    Entry
	done chan error
	// sync marks an item with no entry: its done is answered once every
	// entry queued before it is appended.
	sync bool
}

// New returns a Logger that is not started yet.
func New(cfg Config) (*Logger, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("audit: config: %w", err)
	}
	return &Logger{cfg: cfg, store: cfg.Store, log: cfg.Logger, queue: make(chan item, cfg.QueueSize), done: make(chan struct{})}, nil
}

// Start starts the flusher. The values of ctx (not its end) reach the
// store's Append; Stop stops the flusher.
func (l *Logger) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != created {
		return errors.New("audit: logger already started")
	}
	l.state = running
	l.started = true
	go l.run(context.WithoutCancel(ctx))
	return nil
}

// Stop stops accepting entries (Record and Post return ErrStopped), writes
// the ones queued, and returns once the flusher has ended, or with ctx's
// error if ctx ends first (the flusher then still finishes on its own). It
// is safe to call more than once, and before Start.
func (l *Logger) Stop(ctx context.Context) error {
	l.mu.Lock()
	was, started := l.state, l.started
	l.state = stopped
	l.mu.Unlock()
	if !started {
		return nil
	}
	if was == running {
		l.senders.Wait()
		close(l.queue)
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: stop: %w", ctx.Err())
	}
}

// Record appends e and returns once it is durable, with the store's error
// if the append failed. An invalid entry (see Normalize) is refused at once
// with a *coderclaw.Error and does not affect others. If ctx ends first,
// Record returns ctx's error; an entry already queued is still written.
func (l *Logger) Record(ctx context.Context, e Entry) error {
	done := make(chan error, 1)
	if err := l.send(ctx, e, done); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: record %s: %w", e.Action, ctx.Err())
	}
}

// Sync returns once every entry posted before it is appended (or its
// append failed): a reader that syncs first sees every decision made
// before its query.
func (l *Logger) Sync(ctx context.Context) error {
	done := make(chan error, 1)
	l.mu.RLock()
	if l.state != running {
		l.mu.RUnlock()
		return fmt.Errorf("audit: sync: %w", ErrStopped)
	}
	l.senders.Add(1)
	l.mu.RUnlock()
	defer l.senders.Done()
	select {
	case l.queue <- item{done: done, sync: true}:
	case <-ctx.Done():
		return fmt.Errorf("audit: sync: %w", ctx.Err())
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: sync: %w", ctx.Err())
	}
}

// Post queues e for the next append and returns without waiting for it,
// unless the queue is full; a failed append is logged and counted (see
// Stats), not returned. An invalid entry is refused at once.
func (l *Logger) Post(ctx context.Context, e Entry) error {
	return l.send(ctx, e, nil)
}

// send normalizes e and queues it.
func (l *Logger) send(ctx context.Context, e Entry, done chan error) error {
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e, err := Normalize(e, l.cfg.Secrets...)
	if err != nil {
		return fmt.Errorf("audit: record: %w", err)
	}
	l.mu.RLock()
	if l.state != running {
		l.mu.RUnlock()
		return fmt.Errorf("audit: record %s: %w", e.Action, ErrStopped)
	}
	l.senders.Add(1)
	l.mu.RUnlock()
	defer l.senders.Done()
	select {
	case l.queue <- item{e: e, done: done}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: record %s: %w", e.Action, ctx.Err())
	}
}

// run is the flusher: it appends what is queued, in batches, until the
// queue is closed and drained.
func (l *Logger) run(ctx context.Context) {
	defer close(l.done)
	batch := make([]item, 0, l.cfg.MaxBatch)
	entries := make([]Entry, 0, l.cfg.MaxBatch)
	for it := range l.queue {
		batch = append(batch[:0], it)
		var (
			linger <-chan time.Time
			timer  *time.Timer
		)
		if l.cfg.Linger > 0 && it.done == nil {
			timer = time.NewTimer(l.cfg.Linger)
			linger = timer.C
		}
	drain:
		for len(batch) < l.cfg.MaxBatch {
			if linger == nil {
				select {
				case it, ok := <-l.queue:
					if !ok {
						break drain
					}
					batch = append(batch, it)
				default:
					break drain
				}
				continue
			}
			select {
			case it, ok := <-l.queue:
				if !ok {
					break drain
				}
				batch = append(batch, it)
				if it.done != nil {
					linger = nil // a caller waits: append what we have now
				}
			case <-linger:
				break drain
			}
		}
		if timer != nil {
			timer.Stop()
		}
		entries = entries[:0]
		for _, it := range batch {
			if !it.sync {
				entries = append(entries, it.e)
			}
		}
		var err error
		if len(entries) > 0 {
			_, err = l.store.Append(ctx, entries)
			l.batches.Add(1)
			if err != nil {
				l.failed.Add(uint64(len(entries)))
				l.log.Error("audit append failed", "entries", len(entries), "err", err)
				err = fmt.Errorf("audit: append: %w", err)
			} else {
				l.appended.Add(uint64(len(entries)))
			}
		}
		for _, it := range batch {
			if it.done != nil {
				it.done <- err
			}
		}
		clear(batch)
		clear(entries)
	}
}

// LoggerStats counts a Logger's work since Start.
type LoggerStats struct {
	// Appended and Failed count entries; Batches counts Append calls.
	Appended, Failed, Batches uint64
}

// Stats returns the Logger's counters.
func (l *Logger) Stats() LoggerStats {
	return LoggerStats{Appended: l.appended.Load(), Failed: l.failed.Load(), Batches: l.batches.Load()}
}

// Decision returns the entry recording an authorization decision: the
// principal's identity, the action and the resource, and the result of
// err (the Authorizer's or Authenticator's answer): nil is allowed, an
// *coderclaw.Error of code forbidden, unauthenticated or not_found is
// denied with its user-safe message as the reason, anything else is error.
// The access seam calls it once per decision:
//
//	err := authz.Authorize(ctx, p, op)
//	_ = logger.Post(ctx, audit.Decision(p, "task."+op.Name, "task", op.TaskID, err))
func Decision(p coderclaw.Principal, action, resourceType, resourceID string, err error) Entry {
	e := Entry{Action: action, UserID: p.UserID, SessionID: p.SessionID, DeviceID: p.DeviceID,
		ResourceType: resourceType, ResourceID: resourceID, Result: ResultAllowed}
	if err != nil {
		switch coderclaw.ErrorCode(err) {
		case coderclaw.CodeForbidden, coderclaw.CodeUnauthenticated, coderclaw.CodeNotFound:
			e.Result = ResultDenied
		default:
			e.Result = ResultError
		}
		e.Reason = coderclaw.ErrorMessage(err)
	}
	return e
}
