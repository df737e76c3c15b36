package coderclaw_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering enforces the direction of dependencies: the domain imports
// only the standard library, the engine never sees a transport, a SQL
// driver or net/http, and no adapter imports another adapter.
func TestLayering(t *testing.T) {
	const mod = "github.com/coderclaw/coderclaw"
	rules := []struct {
		pkg    string
		banned []string
		// stdOnly forbids every non-standard import except the listed ones.
		stdOnly bool
	}{
		{pkg: mod, stdOnly: true},
		{pkg: mod + "/internal/engine", banned: []string{"net/http", "database/sql", "modernc.org/sqlite", mod + "/transport/", mod + "/internal/store/sqlite", mod + "/internal/cli", mod + "/internal/node"}},
		{pkg: mod + "/internal/store/sqlite", banned: []string{"net/http", mod + "/transport/", mod + "/internal/engine"}},
		{pkg: mod + "/transport/http", banned: []string{"database/sql", mod + "/internal/engine", mod + "/internal/store", mod + "/transport/ws", mod + "/transport/grpc"}},
		{pkg: mod + "/transport/ws", banned: []string{"database/sql", mod + "/internal/engine", mod + "/internal/store", mod + "/transport/http", mod + "/transport/grpc"}},
		{pkg: mod + "/transport/grpc", banned: []string{"database/sql", mod + "/internal/engine", mod + "/internal/store", mod + "/transport/http", mod + "/transport/ws"}},
		{pkg: mod + "/internal/agent/...", banned: []string{"database/sql", mod + "/internal/engine", mod + "/internal/store", mod + "/transport/"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", r.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dep, std, _ := strings.Cut(line, " ")
			if r.stdOnly && std != "true" && dep != r.pkg {
				t.Errorf("%s imports %s: the domain package may use only the standard library", r.pkg, dep)
			}
			for _, b := range r.banned {
				if dep == b || strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b) {
					t.Errorf("%s imports %s, which it must not", r.pkg, dep)
				}
			}
		}
	}
}
