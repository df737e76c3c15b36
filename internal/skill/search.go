package skill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/coderclaw/coderclaw"
)

// Limits of the search skills.
const (
	// MaxListEntries bounds the paths list returns.
	MaxListEntries = 1000
	// MaxGrepMatches bounds the lines grep returns.
	MaxGrepMatches = 200
	// MaxGrepLineBytes bounds one line grep shows.
	MaxGrepLineBytes = 300
	// MaxGrepFileBytes is the largest file grep searches; larger ones are
	// skipped and counted.
	MaxGrepFileBytes = 16 << 20
	// grepScanBytes is how much of one line grep matches against.
	grepScanBytes = 64 << 10
)

// List is the list skill: the paths under a directory matching a glob.
type List struct{}

var _ Skill = List{}

type listInput struct {
	Path    string `json:"path"`
	Pattern string `json:"pattern"`
}

// Info implements Skill.
func (List) Info() coderclaw.Skill {
	return builtinInfo("list", fmt.Sprintf("List files and directories of the workspace. Without a pattern, lists the entries of path (default: the workspace root). "+
		"pattern is a glob matched against paths relative to path: * and ? match within one path element, ** matches any number of directories, "+
		"{a,b} matches either; for instance \"**/*.go\" finds every Go file below path. Returns paths relative to the workspace root, "+
		"directories ending in /, at most %d of them. The .git directory is never listed.", MaxListEntries), false)
}

// Schema implements Skill.
func (List) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"path":{"type":"string","description":"Directory to list, relative to the workspace root. Default: the root."},` +
		`"pattern":{"type":"string","description":"Glob relative to path, with ** for any depth, e.g. \"**/*_test.go\". Default \"*\": the directory's own entries."}` +
		`},"additionalProperties":false}`)
}

// Call implements Skill.
func (List) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in listInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	pattern := in.Pattern
	if pattern == "" {
		pattern = "*"
	}
	if strings.HasPrefix(pattern, "/") || !doublestar.ValidatePattern(pattern) {
		return "", fmt.Errorf("input: pattern %q is not a valid relative glob", pattern)
	}
	for _, elem := range strings.Split(pattern, "/") {
		if elem == ".." {
			return "", fmt.Errorf("input: pattern %q: \"..\" is not allowed", pattern)
		}
	}
	realRoot, base, err := resolveWithRoot(env.Dir, in.Path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(base)
	if err != nil {
		return "", fileError(displayPath(in.Path), err)
	}
	if !fi.IsDir() {
		return relPath(realRoot, base), nil
	}
	// Without **, a pattern matches at most as deep as it has elements.
	maxDepth := -1
	if !strings.Contains(pattern, "**") {
		maxDepth = strings.Count(pattern, "/") + 1
	}
	var (
		b       strings.Builder
		n       int
		clipped bool
	)
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if p == base {
			return err
		}
		if err != nil {
			// An unreadable entry is left out rather than failing the
			// listing.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if isGitName(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := within(base, p)
		rel = filepath.ToSlash(rel)
		if doublestar.MatchUnvalidated(pattern, rel) {
			if n == MaxListEntries {
				clipped = true
				return fs.SkipAll
			}
			n++
			b.WriteString(relPath(realRoot, p))
			if d.IsDir() {
				b.WriteByte('/')
			}
			b.WriteByte('\n')
		}
		if d.IsDir() && maxDepth > 0 && strings.Count(rel, "/")+1 >= maxDepth {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("list %s: %w", displayPath(in.Path), unwrapPathError(err))
	}
	if n == 0 {
		return fmt.Sprintf("no entries of %s match %q", displayPath(in.Path), pattern), nil
	}
	if clipped {
		fmt.Fprintf(&b, "[listing stopped at %d entries; narrow path or pattern]\n", MaxListEntries)
	}
	return b.String(), nil
}

// resolveWithRoot resolves p like resolve and also returns the real root,
// which output paths are relative to.
func resolveWithRoot(root, p string) (realRoot, path string, err error) {
	if realRoot, err = rootDir(root); err != nil {
		return "", "", err
	}
	path, err = resolve(root, p)
	return realRoot, path, err
}

// displayPath names the path the model gave in messages.
func displayPath(p string) string {
	if p == "" || p == "." {
		return "the workspace root"
	}
	return p
}

// Grep is the grep skill: lines matching a regular expression.
type Grep struct{}

var _ Skill = Grep{}

type grepInput struct {
	Pattern string `json:"pattern"`
	Path    string `json:"path"`
	Glob    string `json:"glob"`
}

// Info implements Skill.
func (Grep) Info() coderclaw.Skill {
	return builtinInfo("grep", fmt.Sprintf("Search the text files of the workspace for lines matching a regular expression (Go RE2 syntax: no backreferences or lookaround; "+
		"(?i) makes it case-insensitive). Searches path (a file or a directory, default the workspace root) recursively, "+
		"optionally only the files matching glob: a glob without / matches file names (\"*.go\"), one with / matches paths relative to path (\"internal/**/*.go\"). "+
		"Returns lines as file:line: text, paths relative to the workspace root, at most %d matches and %d bytes per line. "+
		"Binary files, symbolic links and the .git directory are skipped.", MaxGrepMatches, MaxGrepLineBytes), false)
}

// Schema implements Skill.
func (Grep) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"pattern":{"type":"string","description":"Regular expression (Go RE2 syntax) matched against each line."},` +
		`"path":{"type":"string","description":"File or directory to search, relative to the workspace root. Default: the root."},` +
		`"glob":{"type":"string","description":"Only search files matching this glob, e.g. \"*.go\" or \"src/**/*.ts\"."}` +
		`},"required":["pattern"],"additionalProperties":false}`)
}

// decode reads and checks the input of grep.
func (Grep) decode(input json.RawMessage) (grepInput, *regexp.Regexp, error) {
	var in grepInput
	if err := decodeInput(input, &in); err != nil {
		return in, nil, err
	}
	if in.Pattern == "" {
		return in, nil, errors.New("input: pattern is required")
	}
	re, err := regexp.Compile(in.Pattern)
	if err != nil {
		return in, nil, fmt.Errorf("input: pattern: %w", err)
	}
	if in.Glob != "" && (strings.HasPrefix(in.Glob, "/") || !doublestar.ValidatePattern(in.Glob)) {
		return in, nil, fmt.Errorf("input: glob %q is not a valid relative glob", in.Glob)
	}
	return in, re, nil
}

// Call implements Skill.
func (g Grep) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	in, re, err := g.decode(input)
	if err != nil {
		return "", err
	}
	realRoot, base, err := resolveWithRoot(env.Dir, in.Path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(base)
	if err != nil {
		return "", fileError(displayPath(in.Path), err)
	}
	s := grepSearch{re: re, realRoot: realRoot}
	if !fi.IsDir() {
		if err := s.file(ctx, base); err != nil {
			return "", fmt.Errorf("grep %s: %w", in.Path, unwrapPathError(err))
		}
		return s.result(), nil
	}
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == base {
				return err
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if isGitName(d.Name()) && p != base {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if in.Glob != "" {
			name := d.Name()
			if strings.Contains(in.Glob, "/") {
				rel, _ := within(base, p)
				name = filepath.ToSlash(rel)
			}
			if !doublestar.MatchUnvalidated(in.Glob, name) {
				return nil
			}
		}
		if err := s.file(ctx, p); err != nil {
			return err
		}
		if s.full() {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("grep %s: %w", displayPath(in.Path), unwrapPathError(err))
	}
	return s.result(), nil
}

// grepSearch collects the matches of one grep call.
type grepSearch struct {
	re       *regexp.Regexp
	realRoot string
	b        strings.Builder
	matches  int
	clipped  bool
	large    int
}

func (s *grepSearch) full() bool { return s.clipped }

// file searches one file, skipping binary and very large ones. Files that
// cannot be read are skipped too: a search reports what it can.
func (s *grepSearch) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if fi.Size() > MaxGrepFileBytes {
		s.large++
		return nil
	}
	head := make([]byte, sniffBytes)
	k, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil
	}
	if bytes.IndexByte(head[:k], 0) >= 0 {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	name := relPath(s.realRoot, path)
	n := 0
	err = eachLine(f, grepScanBytes, func(line []byte, _ bool) bool {
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			return false
		}
		if !s.re.Match(line) {
			return true
		}
		if s.matches == MaxGrepMatches {
			s.clipped = true
			return false
		}
		s.matches++
		text := clipLine(strings.ToValidUTF8(string(line), "\uFFFD"), MaxGrepLineBytes)
		fmt.Fprintf(&s.b, "%s:%d: %s\n", name, n, text)
		return true
	})
	if err != nil {
		return nil
	}
	return ctx.Err()
}

func (s *grepSearch) result() string {
	if s.matches == 0 {
		msg := "no matches"
		if s.large > 0 {
			msg += fmt.Sprintf(" (%d files larger than %d bytes were not searched)", s.large, MaxGrepFileBytes)
		}
		return msg
	}
	if s.clipped {
		fmt.Fprintf(&s.b, "[stopped at %d matches; narrow the pattern, path or glob]\n", MaxGrepMatches)
	}
	if s.large > 0 {
		fmt.Fprintf(&s.b, "[%d files larger than %d bytes were not searched]\n", s.large, MaxGrepFileBytes)
	}
	return s.b.String()
}
