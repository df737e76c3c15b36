package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// The writer never checkpoints the WAL itself (wal_autocheckpoint is off on
// its connection): a commit that happened to cross the auto-checkpoint
// threshold would copy pages into the database file and fsync it before
// answering, a stall of several milliseconds in the tail of every write
// latency. Instead a checkpointer goroutine, on its own connection, runs
// PASSIVE checkpoints after commits (at most every checkpointEvery): they
// never wait for the writer or for readers, and the writer rewinds the WAL
// once a checkpoint has caught up with it. Durability is unchanged: each
// commit is still synced to the WAL as the synchronous mode says.

// checkpointEvery bounds how often the checkpointer runs.
const checkpointEvery = 50 * time.Millisecond

// checkpointer runs passive WAL checkpoints in the background.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// committed tells the checkpointer the WAL grew; it never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// Errors are not fatal: the next checkpoint, or the one at close,
		// catches up.
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// close stops the loop and checkpoints everything, truncating the WAL.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	_, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
