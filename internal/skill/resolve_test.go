package skill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// escapeWorkspace is a workspace with links that lead out of it and into
// its .git directory, next to an outside directory holding a secret.
type escapeWorkspace struct {
	root, outside string
}

func newEscapeWorkspace(t *testing.T) escapeWorkspace {
	t.Helper()
	base := t.TempDir()
	w := escapeWorkspace{root: filepath.Join(base, "ws"), outside: filepath.Join(base, "outside")}
	writeFiles(t, w.root, map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n", ".git/config": "[core]\n"})
	writeFiles(t, w.outside, map[string]string{"secret": "secret\n"})
	for link, target := range map[string]string{
		"out":     w.outside,
		"outfile": filepath.Join(w.outside, "secret"),
		"rel-out": "../outside",
		"in":      "sub",
		"gitlink": ".git",
		"broken":  filepath.Join(w.outside, "missing"),
	} {
		if err := os.Symlink(target, filepath.Join(w.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// escapes are paths every path-taking skill must refuse, with a word the
// error must contain.
var escapes = []struct{ path, want string }{
	{"../outside/secret", `".."`},
	{"sub/../../outside/secret", `".."`},
	{"sub/../a.txt", `".."`},
	{"/etc/passwd", "outside the workspace"},
	{".git/config", ".git"},
	{".GIT/config", ".git"},
	{"sub/.git", ".git"},
	{"gitlink/config", ".git"},
	{"out/secret", "symbolic link"},
	{"out", "symbolic link"},
	{"out/new-file", "symbolic link"},
	{"outfile", "symbolic link"},
	{"rel-out/secret", "symbolic link"},
	{"broken", "broken symbolic link"},
	{"broken/x", "broken symbolic link"},
	{"a\x00b", "NUL"},
}

func TestResolveRefusesEscapes(t *testing.T) {
	t.Parallel()
	w := newEscapeWorkspace(t)
	for _, tc := range escapes {
		got, err := resolve(w.root, tc.path)
		if err == nil {
			t.Errorf("resolve(%q) = %s, want an error", tc.path, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resolve(%q): %v, want it to mention %s", tc.path, err, tc.want)
		}
		if strings.Contains(err.Error(), w.outside) {
			t.Errorf("resolve(%q): error %q reveals the real path", tc.path, err)
		}
	}
}

func TestResolveAccepts(t *testing.T) {
	t.Parallel()
	w := newEscapeWorkspace(t)
	real, err := filepath.EvalSymlinks(w.root)
	if err != nil {
		t.Fatal(err)
	}
	// The workspace reached through a link resolves to the same place.
	linked := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(w.root, linked); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ root, path, want string }{
		{w.root, "", real},
		{w.root, ".", real},
		{w.root, "./a.txt", filepath.Join(real, "a.txt")},
		{w.root, "sub/b.txt", filepath.Join(real, "sub", "b.txt")},
		{w.root, "in/b.txt", filepath.Join(real, "sub", "b.txt")},
		{w.root, "new/dir/file.go", filepath.Join(real, "new", "dir", "file.go")},
		{w.root, filepath.Join(w.root, "sub", "b.txt"), filepath.Join(real, "sub", "b.txt")},
		{w.root, w.root, real},
		{w.root, ".gitignore", filepath.Join(real, ".gitignore")},
		{linked, "a.txt", filepath.Join(real, "a.txt")},
		{linked, filepath.Join(linked, "a.txt"), filepath.Join(real, "a.txt")},
		{linked, filepath.Join(real, "a.txt"), filepath.Join(real, "a.txt")},
	}
	for _, tc := range tests {
		got, err := resolve(tc.root, tc.path)
		if err != nil {
			t.Errorf("resolve(%s, %q): %v", tc.root, tc.path, err)
			continue
		}
		if got != tc.want {
			t.Errorf("resolve(%s, %q) = %s, want %s", tc.root, tc.path, got, tc.want)
		}
	}
	if _, err := resolve("", "a.txt"); err == nil {
		t.Error("resolve with no workspace succeeded")
	}
	if _, err := resolve(filepath.Join(w.root, "missing"), "a.txt"); err == nil {
		t.Error("resolve in a missing workspace succeeded")
	}
}

// FuzzResolve checks that whatever path a model gives, resolve either
// refuses it or returns a path inside the workspace and outside .git.
func FuzzResolve(f *testing.F) {
	for _, tc := range escapes {
		f.Add(tc.path)
	}
	for _, p := range []string{"", ".", "a.txt", "sub/b.txt", "in/b.txt", "new/x", "./sub//b.txt", "sub/./b.txt"} {
		f.Add(p)
	}
	base := f.TempDir()
	root := filepath.Join(base, "ws")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "sub"), filepath.Join(root, ".git"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for link, target := range map[string]string{"out": outside, "in": "sub", "gitlink": ".git", "rel-out": "../outside"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			f.Fatal(err)
		}
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := resolve(root, p)
		if err != nil {
			return
		}
		rel, ok := within(real, got)
		if !ok {
			t.Fatalf("resolve(%q) = %s, outside %s", p, got, real)
		}
		for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
			if isGitName(elem) || elem == ".." {
				t.Fatalf("resolve(%q) = %s, into %q", p, got, elem)
			}
		}
		if resolved, err := filepath.EvalSymlinks(got); err == nil {
			if _, ok := within(real, resolved); !ok {
				t.Fatalf("resolve(%q) = %s, which leads to %s", p, got, resolved)
			}
		}
	})
}
