package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].version != 1 || ms[0].name != "initial" {
		t.Fatalf("embedded migrations: %+v", ms)
	}

	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		err   string // "" means valid
	}{
		{"ordered", fstest.MapFS{"m/002_b.up.sql": file("B"), "m/001_a.up.sql": file("A")}, ""},
		{"gap", fstest.MapFS{"m/001_a.up.sql": file("A"), "m/003_c.up.sql": file("C")}, "want version 2"},
		{"duplicate", fstest.MapFS{"m/001_a.up.sql": file("A"), "m/001_b.up.sql": file("B")}, "want version 2"},
		{"not from 1", fstest.MapFS{"m/002_b.up.sql": file("B")}, "want version 1"},
		{"bad name", fstest.MapFS{"m/001_a.sql": file("A")}, "NNN_name.up.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "m")
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("loadMigrations: %v", err)
			case tc.err == "" && (len(ms) != 2 || ms[0].sql != "A" || ms[1].sql != "B"):
				t.Fatalf("loadMigrations: %+v, want A then B", ms)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("loadMigrations: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// rawConn opens a plain connection to a new database file.
func rawConn(t *testing.T) *sql.Conn {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func version(t *testing.T, conn *sql.Conn) int {
	t.Helper()
	var v int
	if err := conn.QueryRowContext(context.Background(), "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, conn *sql.Conn, name string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM sqlite_schema WHERE name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	v1 := migration{1, "a", "CREATE TABLE a (x INTEGER)"}
	v2 := migration{2, "b", "CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1);"}
	bad := migration{3, "bad", "CREATE TABLE c (x INTEGER); THIS IS NOT SQL;"}
	conn := rawConn(t)

	from, to, err := migrate(ctx, conn, []migration{v1}, now)
	if err != nil || from != 0 || to != 1 || version(t, conn) != 1 || !tableExists(t, conn, "a") {
		t.Fatalf("first migration: %d -> %d, %v", from, to, err)
	}
	from, to, err = migrate(ctx, conn, []migration{v1}, now)
	if err != nil || from != 1 || to != 1 {
		t.Fatalf("migrating again: %d -> %d, %v; want nothing to do", from, to, err)
	}
	from, to, err = migrate(ctx, conn, []migration{v1, v2}, now)
	if err != nil || from != 1 || to != 2 || !tableExists(t, conn, "b") {
		t.Fatalf("second migration: %d -> %d, %v", from, to, err)
	}

	// A failing migration is applied not at all, and neither is any other
	// migration of the same run.
	conn2 := rawConn(t)
	if _, _, err := migrate(ctx, conn2, []migration{v1, v2, bad}, now); err == nil || !strings.Contains(err.Error(), "003_bad") {
		t.Fatalf("bad migration: %v, want an error naming it", err)
	}
	if tableExists(t, conn2, "a") || tableExists(t, conn2, "c") {
		t.Fatalf("a failed migration run left tables behind")
	}
	if _, _, err := migrate(ctx, conn, []migration{v1, v2, bad}, now); err == nil {
		t.Fatal("bad migration on a database at version 2: no error")
	}
	if version(t, conn) != 2 || tableExists(t, conn, "c") {
		t.Fatalf("after the failed migration: version %d", version(t, conn))
	}

	// An older binary refuses a newer schema.
	if _, _, err := migrate(ctx, conn, []migration{v1}, now); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary on a newer schema: %v, want ErrNewerSchema", err)
	}
}

// TestOpenNewerSchema opens a database that a newer binary migrated.
func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newer.db")
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Config{Path: path})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema naming version 999", err)
	}
}
