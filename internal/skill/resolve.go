package skill

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// resolve confines p, a path a model gave, to the workspace root and
// returns it as an absolute path with every symbolic link of its existing
// part resolved. p is relative to root, or absolute and inside root; empty
// or "." is root itself. It refuses, with an error meant for the model, a
// path with a ".." element, an absolute path elsewhere, a path through a
// symbolic link that leads out of root (found by resolving the longest
// prefix that exists) or that is broken, and any path to or inside a .git
// entry. The path need not exist.
//
// It has the contract of workspace.Resolve, which it stands in for.
func resolve(root, p string) (string, error) {
	realRoot, err := rootDir(root)
	if err != nil {
		return "", err
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q: contains a NUL byte", p)
	}
	for _, elem := range strings.Split(filepath.ToSlash(p), "/") {
		if elem == ".." {
			return "", fmt.Errorf("path %q: \"..\" is not allowed; give a path inside the workspace", p)
		}
		if isGitName(elem) {
			return "", fmt.Errorf("path %q: the .git directory is off limits", p)
		}
	}
	rel := filepath.Clean(p)
	if filepath.IsAbs(rel) {
		r, ok := within(root, rel)
		if !ok {
			r, ok = within(realRoot, rel)
		}
		if !ok {
			return "", fmt.Errorf("path %q is outside the workspace; give a path relative to the workspace root", p)
		}
		rel = r
	}
	full := filepath.Join(realRoot, rel)

	// Resolve the longest existing prefix; the rest does not exist yet and
	// so holds no links.
	existing, rest := full, ""
	var real string
	for {
		real, err = filepath.EvalSymlinks(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("path %q: %w", p, unwrapPathError(err))
		}
		if _, lerr := os.Lstat(existing); lerr == nil {
			return "", fmt.Errorf("path %q: leads through a broken symbolic link", p)
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
		if existing == realRoot || len(existing) < len(realRoot) {
			// The root exists, so this only guards against a loop.
			real = realRoot
			break
		}
	}
	final := filepath.Join(real, rest)
	inside, ok := within(realRoot, final)
	if !ok {
		return "", fmt.Errorf("path %q leads outside the workspace through a symbolic link", p)
	}
	for _, elem := range strings.Split(filepath.ToSlash(inside), "/") {
		if isGitName(elem) {
			return "", fmt.Errorf("path %q: leads into the .git directory, which is off limits", p)
		}
	}
	return final, nil
}

// rootDir returns the workspace root with its symbolic links resolved.
func rootDir(root string) (string, error) {
	if root == "" {
		return "", errors.New("no workspace directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("workspace %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("workspace %s: %w", root, err)
	}
	return real, nil
}

// within returns p relative to dir when p is dir or inside it.
func within(dir, p string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// isGitName reports whether a path element names a .git entry, in any case
// (case-insensitive file systems open .GIT as .git).
func isGitName(elem string) bool { return strings.EqualFold(elem, ".git") }

// relPath returns the path of abs relative to the real root, with forward
// slashes, for output.
func relPath(realRoot, abs string) string {
	rel, ok := within(realRoot, abs)
	if !ok {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// unwrapPathError drops the absolute path an *fs.PathError names, which the
// model did not give, keeping the operation and cause.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
