package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestZZClaim(t *testing.T) {
	base := fmt.Sprintf(claimSQL, 1)
	for _, q := range []string{
		base,
		strings.Replace(strings.Replace(base, "WHERE id IN (SELECT id", "WHERE rowid IN (SELECT rowid", 1), "", "", 1),
		strings.Replace(base, "WHERE id IN (SELECT id", "WHERE rowid = (SELECT rowid", 1),
		strings.Replace(strings.Replace(base, "WHERE id IN (SELECT id", "WHERE rowid IN (SELECT rowid", 1), "RETURNING "+taskColumns, "RETURNING id", 1),
		strings.Replace(strings.Replace(base, "WHERE id IN (SELECT id", "WHERE rowid IN (SELECT rowid", 1), "RETURNING "+taskColumns, "", 1),
	} {
		s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "x.db")})
		if err != nil {
			t.Fatal(err)
		}
		w := s.w
		w.exec(w.begin)
		n := 5000
		now := time.Now()
		for i := range n {
			w.exec(w.insertTask, fmt.Sprintf("%08d", i), "d", "in", "a", 0, "", "", nil, nil, nil, "", nil, nil, 0, 1, 3, now.UnixNano(), now.UnixNano())
		}
		st, err := w.conn.PrepareContext(w.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range n {
			rs, err := st.QueryContext(w.ctx, "o", now.UnixNano(), now.UnixNano())
			if err != nil {
				t.Fatal(err)
			}
			for rs.Next() {
			}
			rs.Close()
		}
		t.Logf("%v/op  %s", time.Since(start)/time.Duration(n), strings.Join(strings.Fields(q), " ")[140:260])
		st.Close()
		w.exec(w.commit)
		s.Close()
	}
}
