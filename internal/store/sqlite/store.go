// Package sqlite is the embedded store.Store: one SQLite database file in WAL
// mode, through the pure Go driver modernc.org/sqlite.
//
// # Writes
//
// Every write (CreateTask, Transition, Claim, Heartbeat, Append, Rescue) is a
// request to one writer goroutine, which owns the only write connection and
// its prepared statements. It takes the first waiting request and whatever
// else is queued behind it (up to Config.MaxBatch) and runs them in one
// transaction: one COMMIT, hence one fsync, for the whole batch (group
// commit). Only then does it answer the callers, so a write that returned
// nil is durable (with the default synchronous=FULL) and visible to every
// later read. Because one goroutine does all writing, a request reads the
// task's current state inside the transaction and validates the transition
// with coderclaw.ValidateTransition with nothing able to change the state
// in between.
//
// One request's refusal (an unknown task, a lost lease, an invalid
// transition, a duplicate id) rolls back that request alone: every request
// decides to refuse before its first write statement, a request with
// several write statements runs inside its own SAVEPOINT, and the events a
// request queues are dropped with it. The events of the batch are written
// together, with multi-row INSERTs, just before the COMMIT, in the same
// transaction as the state they describe. A failure of the database itself
// (an I/O error, a full disk) rolls back and fails the whole batch.
//
// A write whose context ends before the writer takes it is abandoned and
// returns the context's error; once taken it is applied, and the call waits
// the few milliseconds the batch takes and returns the outcome.
//
// The writer reads and writes only the columns of a task that change; a
// call that returns tasks (Transition, Claim, Rescue) reads their fixed
// columns (input, agent, labels, ...) from the read pool after the commit,
// which is consistent because they never change, and keeps work off the
// single writer goroutine.
//
// # Reads
//
// Reads (Task, Tasks, Events, EventsSince, Counts) go to a separate pool of
// read-only connections (Config.ReadConns) and never wait for the writer:
// WAL readers see the last committed state.
//
// # Contract details
//
// Beyond store.Store, every backend follows the conformance suite in
// storetest; in particular: times are stored as unix nanoseconds and come
// back in UTC (the suite asks for microseconds only); Tasks orders by id
// descending, which for UUIDv7 ids is newest first, and pages by keyset on
// id; Filter.CreatedAfter is inclusive and CreatedBefore exclusive; Counts
// has an entry for every status; a requeue (to pending) adds one to the
// attempt, resets progress and drops the lease; a terminal state drops the
// lease; a duplicate task id is a *coderclaw.Error with code conflict, a
// malformed request one with code invalid.
//
// Errors are wrapped with the operation and the task id; callers match
// store.ErrNotFound, store.ErrLeaseLost, store.ErrClosed,
// *coderclaw.InvalidTransitionError and *coderclaw.Error with errors.Is and
// errors.As. The Store is safe for concurrent use; Close stops it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/coderclaw/coderclaw/internal/store"
)

var _ store.Store = (*Store)(nil)

// Defaults for zero Config fields.
const (
	DefaultSynchronous = "FULL"
	DefaultReadConns   = 4
	DefaultMaxBatch    = 512
)

// Limits on Config fields.
const (
	maxReadConns = 256
	maxMaxBatch  = 1 << 16
	busyTimeout  = 10 * time.Second
)

// Config configures a Store. A zero field means its documented default.
type Config struct {
	// Path is the database file, created if it does not exist. Required.
	Path string
	// Synchronous is SQLite's synchronous mode for the writer: "FULL" (the
	// default: a committed write survives a power loss) or "NORMAL" (a
	// power loss may lose the last commits, never corrupt the file).
	Synchronous string
	// ReadConns bounds the read connection pool; zero means 4.
	ReadConns int
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// MaxBatch bounds the write requests committed in one transaction;
	// zero means 512.
	MaxBatch int
	// OnCommit, when set, is called by the writer after each committed
	// batch with its number of requests and the COMMIT's duration (for
	// metrics); it must not block.
	OnCommit func(batch int, d time.Duration)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Synchronous == "" {
		c.Synchronous = DefaultSynchronous
	}
	c.Synchronous = strings.ToUpper(c.Synchronous)
	if c.ReadConns == 0 {
		c.ReadConns = DefaultReadConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

// validate checks a Config that has its defaults applied.
func (c Config) validate() error {
	switch {
	case strings.TrimSpace(c.Path) == "":
		return errors.New("Path: must not be empty")
	case strings.HasPrefix(c.Path, ":memory:") || strings.HasPrefix(c.Path, "file:"):
		return fmt.Errorf("Path: %q: want a file path (the writer and the readers share the file)", c.Path)
	case c.Synchronous != "FULL" && c.Synchronous != "NORMAL":
		return fmt.Errorf("Synchronous: %q: want FULL or NORMAL", c.Synchronous)
	case c.ReadConns < 1 || c.ReadConns > maxReadConns:
		return fmt.Errorf("ReadConns: %d is outside [1, %d]", c.ReadConns, maxReadConns)
	case c.MaxBatch < 1 || c.MaxBatch > maxMaxBatch:
		return fmt.Errorf("MaxBatch: %d is outside [1, %d]", c.MaxBatch, maxMaxBatch)
	}
	return nil
}

// Store is a store.Store on a SQLite database. Create it with Open; it is
// safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	readDB  *sql.DB
	writeDB *sql.DB
	conn    *sql.Conn // the writer's connection
	reads   readStmts
	// w is the writer, set by startWriter; writerErr is its end, set
	// before writerDone is closed.
	w         *writer
	writerErr error
	ckpt      *checkpointer

	// mu guards closed; ops counts the calls in progress. A call enters
	// (see enter) only while the store is open, so once Close has set
	// closed and ops has drained, nothing can send on reqs any more.
	mu          sync.RWMutex
	closed      bool
	ops         sync.WaitGroup
	reqs        chan *request
	writerDone  chan struct{}
	closeOnce   sync.Once
	closeErr    error
	batches     atomic.Uint64
	requests    atomic.Uint64
	largestSeen atomic.Uint64
	busy        atomic.Int64 // nanoseconds
	committing  atomic.Int64 // nanoseconds
}

// Open opens (creating if needed) the database at cfg.Path, brings its
// schema up to date, and starts the writer. A database whose schema is newer
// than this binary is refused with ErrNewerSchema.
func Open(ctx context.Context, cfg Config) (_ *Store, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sqlite: config: %w", err)
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s := &Store{
		cfg:        cfg,
		log:        cfg.Logger,
		reqs:       make(chan *request, cfg.MaxBatch),
		writerDone: make(chan struct{}),
	}
	var cleanup []func() error
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				_ = cleanup[i]() // the open error is the one to report
			}
		}
	}()

	s.writeDB, err = sql.Open("sqlite", dsn(cfg.Path,
		"journal_mode(WAL)",
		"synchronous("+cfg.Synchronous+")",
		"wal_autocheckpoint(0)", // the checkpointer does it (checkpoint.go)
		"journal_size_limit(67108864)",
		"cache_size(-32768)",
		// Statement and savepoint journals stay in memory.
		"temp_store(MEMORY)",
	))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	cleanup = append(cleanup, s.writeDB.Close)
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetMaxIdleConns(1)
	s.writeDB.SetConnMaxLifetime(0)
	s.writeDB.SetConnMaxIdleTime(0)
	conn, err := s.writeDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	cleanup = append(cleanup, conn.Close)

	from, to, err := migrate(ctx, conn, ms, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	if from != to {
		s.log.Info("migrated database schema", "path", cfg.Path, "from", from, "to", to)
	}

	s.readDB, err = sql.Open("sqlite", dsn(cfg.Path, "query_only(1)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", cfg.Path, err)
	}
	cleanup = append(cleanup, s.readDB.Close)
	s.readDB.SetMaxOpenConns(cfg.ReadConns)
	s.readDB.SetMaxIdleConns(cfg.ReadConns)
	s.readDB.SetConnMaxLifetime(0)
	s.readDB.SetConnMaxIdleTime(0)
	if err := s.reads.prepare(ctx, s.readDB); err != nil {
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", cfg.Path, err)
	}
	cleanup = append(cleanup, s.reads.close)

	ckptDB, err := sql.Open("sqlite", dsn(cfg.Path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", cfg.Path, err)
	}
	ckptDB.SetMaxOpenConns(1)
	cleanup = append(cleanup, ckptDB.Close)
	s.ckpt = startCheckpointer(ckptDB)
	cleanup = append(cleanup, s.ckpt.close)

	s.conn = conn
	if err := s.startWriter(conn); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	return s, nil
}

// dsn returns the driver's data source name for path with the pragmas every
// connection runs when it opens.
func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Close stops accepting writes (they fail with store.ErrClosed), lets the
// writer finish the ones already queued, and closes the database. It is
// safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.ops.Wait()  // calls in progress finish, their writes with them
		close(s.reqs) // the writer drains what is left and stops
		<-s.writerDone
		s.closeErr = errors.Join(s.writerErr, s.reads.close(), s.readDB.Close(), s.ckpt.close(), s.ckpt.db.Close(),
			s.conn.Close(), s.writeDB.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// enter registers a call in progress and reports whether the store is
// open; a call that entered must call s.ops.Done when it ends.
func (s *Store) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.ops.Add(1)
	return true
}

// Ping checks that a read connection answers and that the writer can start
// and commit a transaction.
func (s *Store) Ping(ctx context.Context) error {
	if !s.enter() {
		return fmt.Errorf("ping: %w", store.ErrClosed)
	}
	defer s.ops.Done()
	if err := s.readDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: read: %w", err)
	}
	if err := s.write(ctx, withoutSavepoint, func(*writer) error { return nil }); err != nil {
		return fmt.Errorf("ping: write: %w", err)
	}
	return nil
}

// Stats describes the writer's group commit since Open.
type Stats struct {
	// Batches is the number of transactions the writer ran, Requests the
	// number of write requests they carried, LargestBatch the most
	// requests in one.
	Batches, Requests, LargestBatch uint64
	// Busy is the time the writer spent on batches, Committing the part of
	// it in COMMIT (writing the WAL and, with synchronous=FULL, fsync).
	// Busy over wall time is the writer's utilisation: near 100%, writes
	// queue and the batches grow.
	Busy, Committing time.Duration
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Batches:      s.batches.Load(),
		Requests:     s.requests.Load(),
		LargestBatch: s.largestSeen.Load(),
		Busy:         time.Duration(s.busy.Load()),
		Committing:   time.Duration(s.committing.Load()),
	}
}

// Backend names the store in a node's status.
func (s *Store) Backend() string { return "sqlite" }
