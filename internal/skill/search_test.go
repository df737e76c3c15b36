package skill

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func searchTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":                  "module example.com/m\n",
		"main.go":                 "package main\n\nfunc main() { Hello() }\n",
		"internal/a/a.go":         "package a\n\n// Hello says hello.\nfunc Hello() {}\n",
		"internal/a/a_test.go":    "package a\n\nfunc TestHello(t *testing.T) { Hello() }\n",
		"internal/b/deep/b.go":    "package deep\n",
		"docs/readme.md":          "Say Hello to the world.\n",
		".git/HEAD":               "ref: refs/heads/main Hello\n",
		"internal/a/.git/x.go":    "func Hello() {}\n",
		"bin/tool":                "Hello\x00binary",
		"long.txt":                strings.Repeat("z", 1000) + "Hello" + "\n",
		".github/workflows/ci.go": "Hello\n",
	})
	return dir
}

func TestList(t *testing.T) {
	t.Parallel()
	dir := searchTree(t)
	tests := []struct{ input, want string }{
		{`{}`, ".github/\nbin/\ndocs/\ngo.mod\ninternal/\nlong.txt\nmain.go\n"},
		{`{"path":"internal"}`, "internal/a/\ninternal/b/\n"},
		{`{"pattern":"**/*.go"}`, ".github/workflows/ci.go\ninternal/a/a.go\ninternal/a/a_test.go\ninternal/b/deep/b.go\nmain.go\n"},
		{`{"path":"internal","pattern":"*/*.go"}`, "internal/a/a.go\ninternal/a/a_test.go\n"},
		{`{"path":"internal","pattern":"**/*_test.go"}`, "internal/a/a_test.go\n"},
		{`{"pattern":"{docs,bin}/*"}`, "bin/tool\ndocs/readme.md\n"},
		{`{"path":"main.go"}`, "main.go"},
		{`{"pattern":"*.rs"}`, `no entries of the workspace root match "*.rs"`},
	}
	for _, tc := range tests {
		if got := mustRun(t, List{}, dir, tc.input); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.input, got, tc.want)
		}
	}
	for _, tc := range []struct{ input, want string }{
		{`{"pattern":"[a-"}`, "not a valid relative glob"},
		{`{"pattern":"/etc/*"}`, "not a valid relative glob"},
		{`{"pattern":"../*"}`, `".."`},
		{`{"path":"nope"}`, "nope does not exist"},
	} {
		if _, err := run(t, List{}, dir, tc.input); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}
}

func TestListCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{}
	for i := 0; i < MaxListEntries+5; i++ {
		files[fmt.Sprintf("f%04d", i)] = ""
	}
	writeFiles(t, dir, files)
	out := mustRun(t, List{}, dir, `{}`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != MaxListEntries+1 || !strings.Contains(lines[len(lines)-1], "listing stopped at 1000 entries") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestGrep(t *testing.T) {
	t.Parallel()
	dir := searchTree(t)
	longLine := "long.txt:1: " + strings.Repeat("z", MaxGrepLineBytes) + " [... 705 more bytes]\n"
	tests := []struct{ input, want string }{
		{`{"pattern":"Hello\\(\\)"}`, "internal/a/a.go:4: func Hello() {}\n" +
			"internal/a/a_test.go:3: func TestHello(t *testing.T) { Hello() }\n" +
			"main.go:3: func main() { Hello() }\n"},
		{`{"pattern":"hello","glob":"*.md"}`, "no matches"},
		{`{"pattern":"(?i)hello","glob":"*.md"}`, "docs/readme.md:1: Say Hello to the world.\n"},
		{`{"pattern":"Hello","path":"internal","glob":"a/*_test.go"}`, "internal/a/a_test.go:3: func TestHello(t *testing.T) { Hello() }\n"},
		{`{"pattern":"Hello","path":"main.go"}`, "main.go:3: func main() { Hello() }\n"},
		{`{"pattern":"Hello","glob":"*.txt"}`, longLine},
		{`{"pattern":"^package","path":"internal/b"}`, "internal/b/deep/b.go:1: package deep\n"},
	}
	for _, tc := range tests {
		if got := mustRun(t, Grep{}, dir, tc.input); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.input, got, tc.want)
		}
	}
	// Binary files and .git directories are skipped, other dot directories
	// are not.
	all := mustRun(t, Grep{}, dir, `{"pattern":"Hello"}`)
	for _, bad := range []string{"bin/tool", ".git/"} {
		if strings.Contains(all, bad) {
			t.Errorf("grep searched %s:\n%s", bad, all)
		}
	}
	if !strings.Contains(all, ".github/workflows/ci.go:1: Hello\n") {
		t.Errorf("grep skipped .github:\n%s", all)
	}
	for _, tc := range []struct{ input, want string }{
		{`{"pattern":"("}`, "input: pattern: error parsing regexp"},
		{`{"pattern":""}`, "pattern is required"},
		{`{"pattern":"x","glob":"[z"}`, "not a valid relative glob"},
		{`{"pattern":"x","path":"missing"}`, "missing does not exist"},
	} {
		if _, err := run(t, Grep{}, dir, tc.input); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}
}

func TestGrepCapAndLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"many.txt": strings.Repeat("match\n", MaxGrepMatches+10)})
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.txt": "match in secret\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, Grep{}, dir, `{"pattern":"match"}`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != MaxGrepMatches+1 || !strings.Contains(lines[len(lines)-1], "stopped at 200 matches") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if strings.Contains(out, "secret") {
		t.Errorf("grep followed a link out of the workspace:\n%s", out)
	}
}
