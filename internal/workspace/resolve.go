package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symbolic links Resolve follows for one path, as
// the kernel does (ELOOP).
const maxSymlinks = 40

// Resolve confines p, a path a model gave, to the directory root. p is
// relative to root, or absolute and inside root. The result is an absolute
// path inside root with every symbolic link of its existing part resolved
// (root itself resolved too); the part that does not exist yet, such as a
// file to be created, is appended as given.
//
// Resolve refuses, with an error that names p and says why (it is meant to
// be shown to the model): an empty path or one holding a NUL byte, a path
// that leaves root through "..", an absolute path outside root, a symbolic
// link that leads outside root (also through a directory the path creates
// under it), and the .git entry at the top of the worktree, which the model
// must change through git skills only.
func Resolve(root, p string) (string, error) {
	if root == "" {
		return "", errors.New("resolve path: empty workspace root")
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolve path: workspace root %s: %w", root, err)
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return "", fmt.Errorf("resolve path: workspace root %s: %w", root, err)
	}
	if p == "" {
		return "", errors.New("path is empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q holds a NUL byte", p)
	}

	rel := p
	if filepath.IsAbs(p) {
		clean := filepath.Clean(p)
		r, ok := within(absRoot, clean)
		if !ok {
			r, ok = within(realRoot, clean)
		}
		if !ok {
			return "", fmt.Errorf("path %s is outside the workspace %s; give a path relative to it", p, absRoot)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %s leaves the workspace through \"..\"", p)
	}

	resolved, err := walk(realRoot, rel)
	if err != nil {
		return "", fmt.Errorf("path %s: %w", p, err)
	}
	inside, ok := within(realRoot, resolved)
	if !ok {
		return "", fmt.Errorf("path %s leads outside the workspace through a symbolic link (to %s)", p, resolved)
	}
	first, _, _ := strings.Cut(inside, string(filepath.Separator))
	if strings.EqualFold(first, ".git") {
		return "", fmt.Errorf("path %s is inside .git; use the git skills to change the repository", p)
	}
	return resolved, nil
}

// within returns path relative to dir when path is dir or below it; both
// are clean absolute paths.
func within(dir, path string) (string, bool) {
	if path == dir {
		return ".", true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	return path[len(prefix):], true
}

// walk resolves rel under the symlink-free directory base one name at a
// time, following symbolic links like the kernel does, and stops resolving
// at the first name that does not exist: the rest is appended lexically. A
// dangling symbolic link is followed too, so that a file created through it
// is where the result says.
func walk(base, rel string) (string, error) {
	cur := base
	rest := splitPath(rel)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".", "":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
			// Nothing below a missing name (or a file) can exist, but ".."
			// in the rest may climb back out of it.
			cur = next
			continue
		case err != nil:
			return "", fmt.Errorf("cannot inspect %s: %w", name, unwrapPathError(err))
		case fi.Mode()&fs.ModeSymlink == 0:
			cur = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("cannot read symbolic link %s: %w", name, unwrapPathError(err))
		}
		if filepath.IsAbs(target) {
			cur = string(filepath.Separator)
		}
		rest = append(splitPath(target), rest...)
	}
	return filepath.Clean(cur), nil
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == filepath.Separator })
}

// unwrapPathError drops the path a *fs.PathError repeats, since the
// caller's message names it already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
