package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// migrationFiles holds the schema, one file per version: NNN_name.up.sql,
// numbered from 001 without gaps. A released file never changes; a new
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNewerSchema reports a database whose schema was written by a newer
// version of CoderClaw than the running one; opening it could corrupt it.
var ErrNewerSchema = errors.New("database schema is newer than this binary")

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.up\.sql$`)

// loadMigrations reads the migrations in dir of fsys, in version order, and
// checks they are numbered 1, 2, 3, ... without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.up.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: m[2], sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %03d_%s: want version %d (versions start at 1 without gaps or duplicates)", m.version, m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema of the database on conn up to the last of ms in
// one transaction: either every pending migration is applied or none is. It
// returns the versions before and after. A database at a version beyond
// the last of ms is refused with ErrNewerSchema.
func migrate(ctx context.Context, conn *sql.Conn, ms []migration, now time.Time) (from, to int, err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, 0, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The transaction may already be gone (SQLite rolls back by itself
			// on some errors); the original error is the one to report.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return 0, 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("migrate: read version: %w", err)
	}
	latest := len(ms)
	if from > latest {
		return from, from, fmt.Errorf("migrate: %w: database is at version %d, this binary knows versions up to %d; upgrade coderclaw", ErrNewerSchema, from, latest)
	}
	for _, m := range ms[from:] {
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return from, from, fmt.Errorf("migrate: apply %03d_%s: %w", m.version, m.name, err)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, now.UnixNano()); err != nil {
			return from, from, fmt.Errorf("migrate: record %03d_%s: %w", m.version, m.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return from, from, fmt.Errorf("migrate: commit: %w", err)
	}
	return from, latest, nil
}
