package workspace_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderclaw/coderclaw/internal/workspace"
)

// resolveTree builds a workspace root with symbolic links in and out of it
// next to a directory outside it, returning root's real path and outside.
func resolveTree(t testing.TB) (root, outside string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	writeFile(t, filepath.Join(root, "src", "main.go"), "package main\n")
	writeFile(t, filepath.Join(root, ".git"), "gitdir: /elsewhere\n")
	writeFile(t, filepath.Join(outside, "secret"), "secret\n")
	for link, target := range map[string]string{
		"out":         outside,                    // absolute, leaves
		"rel-out":     "../outside",               // relative, leaves
		"in":          "src",                      // relative, stays
		"abs-in":      filepath.Join(root, "src"), // absolute, stays
		"dangling":    filepath.Join(outside, "new-file"),
		"dangling-in": "src/new-file",
		"loop":        "loop",
		"git":         ".git",
		"back":        "../root/src", // leaves and comes back
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestResolve(t *testing.T) {
	t.Parallel()
	root, outside := resolveTree(t)
	// A root given through a symbolic link is resolved too.
	linkRoot := filepath.Join(t.TempDir(), "link-root")
	if err := os.Symlink(root, linkRoot); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p       string
		want    string // relative to root; "" means refused
		errText string
	}{
		{p: "src/main.go", want: "src/main.go"},
		{p: ".", want: "."},
		{p: "./src//main.go", want: "src/main.go"},
		{p: "src/../src/main.go", want: "src/main.go"},
		{p: "new/dir/file.txt", want: "new/dir/file.txt"},
		{p: filepath.Join(root, "src", "main.go"), want: "src/main.go"},
		{p: filepath.Join(linkRoot, "src", "main.go"), want: "src/main.go"},
		{p: "in/main.go", want: "src/main.go"},
		{p: "abs-in/new.go", want: "src/new.go"},
		{p: "back/main.go", want: "src/main.go"},
		{p: "dangling-in", want: "src/new-file"},
		{p: "missing/../src", want: "src"},
		{p: ".gitignore", want: ".gitignore"},
		{p: "src/.git/config", want: "src/.git/config"},

		{p: "", errText: "empty"},
		{p: "a\x00b", errText: "NUL"},
		{p: "..", errText: `leaves the workspace through ".."`},
		{p: "../outside/secret", errText: `leaves the workspace through ".."`},
		{p: "src/../../outside", errText: `leaves the workspace through ".."`},
		{p: filepath.Join(outside, "secret"), errText: "outside the workspace"},
		{p: "/etc/passwd", errText: "outside the workspace"},
		{p: filepath.Join(root, "..", "outside"), errText: "outside the workspace"},
		{p: "out/secret", errText: "symbolic link"},
		{p: "out/new-file", errText: "symbolic link"},
		{p: "out/sub/new-file", errText: "symbolic link"},
		{p: "rel-out", errText: "symbolic link"},
		{p: "dangling", errText: "symbolic link"},
		{p: "in/../../outside", errText: `".."`},
		{p: "loop/x", errText: "too many levels of symbolic links"},
		{p: ".git", errText: "inside .git"},
		{p: ".git/config", errText: "inside .git"},
		{p: ".GIT/config", errText: "inside .git"},
		{p: "git", errText: "inside .git"},
		{p: filepath.Join(root, ".git", "hooks", "pre-commit"), errText: "inside .git"},
	} {
		for _, r := range []string{root, linkRoot} {
			if strings.HasPrefix(tc.p, linkRoot) && r != linkRoot {
				continue // a path through another link to root is elsewhere
			}
			got, err := workspace.Resolve(r, tc.p)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Errorf("Resolve(%s, %q) = %q, %v; want an error with %q", r, tc.p, got, err, tc.errText)
				} else if tc.p != "" && !strings.Contains(err.Error(), strings.ReplaceAll(tc.p, "\x00", "\\x00")) {
					t.Errorf("Resolve(%q): error %q does not name the path", tc.p, err)
				}
				continue
			}
			want := filepath.Join(root, tc.want)
			if err != nil || got != want {
				t.Errorf("Resolve(%s, %q) = %q, %v; want %q", r, tc.p, got, err, want)
			}
		}
	}
}

func TestResolveMissingRoot(t *testing.T) {
	t.Parallel()
	if _, err := workspace.Resolve(filepath.Join(t.TempDir(), "missing"), "x"); err == nil {
		t.Error("Resolve under a missing root succeeded")
	}
	if _, err := workspace.Resolve("", "x"); err == nil {
		t.Error("Resolve under an empty root succeeded")
	}
}

// FuzzResolve checks that whatever path Resolve accepts is inside root
// (after resolving root's symbolic links), is not in .git, and that the
// existing part of it has no symbolic link left.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"src/main.go", ".", "..", "../outside/secret", "out/secret", "rel-out/x",
		"in/../../outside", "back/../../outside", "dangling", "loop/x", ".git/config",
		"git/x", "/etc/passwd", "a\x00b", "src/../../root/src", "in/./../in/main.go",
	} {
		f.Add(s)
	}
	root, _ := resolveTree(f)
	f.Fuzz(func(t *testing.T, p string) {
		got, err := workspace.Resolve(root, p)
		if err != nil {
			if !strings.Contains(err.Error(), "path") {
				t.Errorf("error %q does not say which path", err)
			}
			return
		}
		if got != root && !strings.HasPrefix(got, root+string(filepath.Separator)) {
			t.Fatalf("Resolve(%q) = %q, outside %q", p, got, root)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(got, root), string(filepath.Separator))
		if first, _, _ := strings.Cut(rel, string(filepath.Separator)); strings.EqualFold(first, ".git") {
			t.Fatalf("Resolve(%q) = %q, inside .git", p, got)
		}
		// The longest existing prefix must resolve to itself.
		prefix := got
		for {
			if _, err := os.Lstat(prefix); err == nil {
				break
			}
			prefix = filepath.Dir(prefix)
		}
		real, err := filepath.EvalSymlinks(prefix)
		if err != nil {
			t.Fatalf("Resolve(%q) = %q: %v", p, got, err)
		}
		if real != prefix {
			t.Fatalf("Resolve(%q) = %q, whose existing part %q is really %q", p, got, prefix, real)
		}
	})
}
