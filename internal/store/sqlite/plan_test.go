package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
)

// TestQueryPlans pins the index every hot query walks, so that a schema or
// query change that would make one scan or sort the table fails here and not
// in production. SQLite plans without statistics, as on a new database.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, Config{})
	list := func(f coderclaw.Filter) string { q, _ := tasksQuery(f, 51); return q }
	for _, tc := range []struct {
		name, query string
		want        []string
		avoid       []string
	}{
		{"claim", claimQuery(8), []string{"tasks_pending"}, []string{"TEMP B-TREE", "tasks_status"}},
		{"claim one", claimQuery(1), []string{"tasks_pending", "INTEGER PRIMARY KEY (rowid=?)"}, []string{"TEMP B-TREE", "tasks_status"}},
		{"rescue", rescueSelectSQL, []string{"tasks_active"}, nil},
		{"heartbeat", heartbeatSQL, []string{"sqlite_autoindex_tasks_1"}, nil},
		{"select state", selectStateSQL, []string{"sqlite_autoindex_tasks_1"}, nil},
		{"update", updateTaskSQL, []string{"sqlite_autoindex_tasks_1"}, nil},
		{"events of a task", "SELECT " + eventColumns + " FROM events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?", []string{"sqlite_autoindex_events_1"}, []string{"TEMP B-TREE"}},
		{"events since", "SELECT " + eventColumns + " FROM events WHERE position > ? ORDER BY position LIMIT ?", []string{"INTEGER PRIMARY KEY"}, []string{"TEMP B-TREE"}},
		{"list all", list(coderclaw.Filter{Cursor: "x"}), []string{"sqlite_autoindex_tasks_1"}, []string{"TEMP B-TREE"}},
		{"list completed", list(coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusCompleted}}), []string{"tasks_status"}, []string{"TEMP B-TREE"}},
		{"list failed or cancelled", list(coderclaw.Filter{Status: []coderclaw.Status{coderclaw.StatusFailed, coderclaw.StatusCancelled}}), []string{"tasks_status"}, nil},
		{"list by parent", list(coderclaw.Filter{ParentID: "p"}), []string{"tasks_parent"}, []string{"TEMP B-TREE"}},
		{"list by session", list(coderclaw.Filter{SessionID: "s", Cursor: "x"}), []string{"tasks_session"}, []string{"TEMP B-TREE"}},
		{"list by project", list(coderclaw.Filter{Project: "p", CreatedAfter: time.Now()}), []string{"tasks_project"}, []string{"TEMP B-TREE"}},
		{"counts", countsSQL, []string{"COVERING INDEX tasks_pending", "COVERING INDEX tasks_status"}, nil},
	} {
		args := make([]any, strings.Count(tc.query, "?"))
		for i := range args {
			args[i] = 1
		}
		rs, err := s.readDB.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+tc.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rs.Next() {
			var id, parent, unused int
			var detail string
			if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rs.Close(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "; ")
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: plan %q does not use %s", tc.name, text, w)
			}
		}
		for _, a := range tc.avoid {
			if strings.Contains(text, a) {
				t.Errorf("%s: plan %q has %s", tc.name, text, a)
			}
		}
	}
}
