package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestZZPlan(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{fmt.Sprintf(claimSQL, 5), rescueSelectSQL, heartbeatSQL, "SELECT " + eventColumns + " FROM events WHERE task_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
		"SELECT " + taskColumns + " FROM tasks WHERE parent_id = ?1 ORDER BY id DESC LIMIT 3", "SELECT " + taskColumns + " FROM tasks WHERE status IN (?1, ?2) ORDER BY id DESC LIMIT 3", "SELECT " + taskColumns + " FROM tasks WHERE session_id = ?1 AND status = ?2 ORDER BY id DESC LIMIT 3", "SELECT status, COUNT(*) FROM tasks GROUP BY status",
	} {
		rs, err := s.readDB.Query("EXPLAIN QUERY PLAN "+q, "a", 1, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(q)
		for rs.Next() {
			var id, parent, notused int
			var detail string
			rs.Scan(&id, &parent, &notused, &detail)
			t.Logf("   %d %d %s", id, parent, detail)
		}
		rs.Close()
	}
}
