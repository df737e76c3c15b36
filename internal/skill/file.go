package skill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/coderclaw/coderclaw"
)

// Limits of the file skills.
const (
	// DefaultReadLines is how many lines file-read shows when no limit is
	// given, and the most it shows at once.
	DefaultReadLines = 2000
	// MaxReadBytes bounds the output of one file-read.
	MaxReadBytes = 128 << 10
	// MaxLineBytes bounds one line shown by file-read and grep; the rest
	// of a longer line is cut and its length reported.
	MaxLineBytes = 2000
	// MaxEditBytes is the largest file file-edit changes.
	MaxEditBytes = 8 << 20
	// MaxWriteBytes is the largest content file-write writes.
	MaxWriteBytes = 8 << 20
	// sniffBytes is how much of a file is searched for a NUL byte to tell
	// a binary file, as git does.
	sniffBytes = 8000
)

// FileRead is the file-read skill: a text file's lines, numbered.
type FileRead struct{}

var _ Skill = FileRead{}

type fileReadInput struct {
	Path   string `json:"path"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
}

// Info implements Skill.
func (FileRead) Info() coderclaw.Skill {
	return builtinInfo("file-read", fmt.Sprintf("Read a text file of the workspace. Returns its lines, each prefixed with its line number and a tab "+
		"(the prefix is not part of the file). Reads at most %d lines from offset (1-based line number, default 1); "+
		"lines longer than %d bytes are cut, and the output says where it stopped so you can read on with a larger offset. "+
		"Binary files are refused. Paths are relative to the workspace root.", DefaultReadLines, MaxLineBytes), false)
}

// Schema implements Skill.
func (FileRead) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"path":{"type":"string","description":"File to read, relative to the workspace root."},` +
		`"offset":{"type":"integer","minimum":1,"description":"First line to show, 1-based. Default 1."},` +
		`"limit":{"type":"integer","minimum":1,"maximum":2000,"description":"Most lines to show. Default and maximum 2000."}` +
		`},"required":["path"],"additionalProperties":false}`)
}

// Call implements Skill.
func (FileRead) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in fileReadInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	if in.Path == "" {
		return "", errors.New("input: path is required")
	}
	if in.Offset < 0 || in.Limit < 0 {
		return "", errors.New("input: offset and limit must be positive")
	}
	offset, limit := max(in.Offset, 1), in.Limit
	if limit == 0 || limit > DefaultReadLines {
		limit = DefaultReadLines
	}
	path, err := resolve(env.Dir, in.Path)
	if err != nil {
		return "", err
	}
	f, err := openText(in.Path, path)
	if err != nil {
		return "", err
	}
	defer f.Close()

	var (
		b       strings.Builder
		n, last int
		stopped string
	)
	err = eachLine(f, MaxLineBytes, func(line []byte, long bool) bool {
		n++
		if n < offset {
			return true
		}
		if n-offset >= limit {
			stopped = fmt.Sprintf("line limit of %d", limit)
			return false
		}
		text := strings.ToValidUTF8(string(line), "\uFFFD")
		if long {
			text += " [line cut]"
		}
		entry := fmt.Sprintf("%6d\t%s\n", n, text)
		if b.Len()+len(entry) > MaxReadBytes {
			stopped = fmt.Sprintf("output limit of %d bytes", MaxReadBytes)
			return false
		}
		b.WriteString(entry)
		last = n
		return ctx.Err() == nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", in.Path, unwrapPathError(err))
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	switch {
	case n == 0:
		return "(empty file)", nil
	case last == 0 && stopped == "":
		return "", fmt.Errorf("offset %d is past the end of %s, which has %d lines", offset, in.Path, n)
	case stopped != "":
		fmt.Fprintf(&b, "[output stopped after line %d at the %s; read on with offset=%d]\n", last, stopped, last+1)
	}
	return b.String(), nil
}

// openText opens the regular file at path (given by the model as name)
// and refuses a directory or a binary file.
func openText(name, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileError(name, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory; use the list skill to see its contents", name)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	head := make([]byte, sniffBytes)
	k, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fileError(name, err)
	}
	if bytes.IndexByte(head[:k], 0) >= 0 {
		f.Close()
		return nil, fmt.Errorf("%s is a binary file (%d bytes); only text files can be read", name, fi.Size())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fileError(name, err)
	}
	return f, nil
}

// fileError words a file system error about the model's path name.
func fileError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist", name)
	}
	return fmt.Errorf("%s: %w", name, unwrapPathError(err))
}

// eachLine calls fn with every line of r without its line feed, cut to at
// most max bytes (long tells whether it was longer), until r ends or fn
// returns false. line is valid only during the call.
func eachLine(r io.Reader, max int, fn func(line []byte, long bool) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		buf   []byte
		total int
	)
	for {
		chunk, err := br.ReadSlice('\n')
		total += len(chunk)
		if room := max + 1 - len(buf); room > 0 {
			buf = append(buf, chunk[:min(room, len(chunk))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if total > 0 {
			content := total
			if err == nil {
				content-- // the line feed
			}
			line := buf[:min(len(buf), content)]
			long := content > max
			if long {
				line = line[:max]
			}
			if !fn(line, long) {
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		buf, total = buf[:0], 0
	}
}

// FileWrite is the file-write skill: creates or replaces a file.
type FileWrite struct{}

var _ Skill = FileWrite{}

type fileWriteInput struct {
	Path    string  `json:"path"`
	Content *string `json:"content"`
}

// Info implements Skill.
func (FileWrite) Info() coderclaw.Skill {
	return builtinInfo("file-write", "Create a file, or replace a file's whole content, in the workspace. "+
		"Missing parent directories are created. The write is atomic: the file holds either its old or its new content, never a part. "+
		"To change part of an existing file, prefer file-edit. Paths are relative to the workspace root.", false)
}

// Schema implements Skill.
func (FileWrite) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"path":{"type":"string","description":"File to write, relative to the workspace root."},` +
		`"content":{"type":"string","description":"The complete new content of the file."}` +
		`},"required":["path","content"],"additionalProperties":false}`)
}

// Call implements Skill.
func (FileWrite) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	var in fileWriteInput
	if err := decodeInput(input, &in); err != nil {
		return "", err
	}
	switch {
	case in.Path == "":
		return "", errors.New("input: path is required")
	case in.Content == nil:
		return "", errors.New("input: content is required (use \"\" for an empty file)")
	case len(*in.Content) > MaxWriteBytes:
		return "", fmt.Errorf("input: content is %d bytes; at most %d can be written at once", len(*in.Content), MaxWriteBytes)
	}
	path, err := resolve(env.Dir, in.Path)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	perm := fs.FileMode(0o644)
	created := true
	switch fi, err := os.Stat(path); {
	case err == nil && fi.IsDir():
		return "", fmt.Errorf("%s is a directory", in.Path)
	case err == nil:
		perm, created = fi.Mode().Perm(), false
	case !errors.Is(err, fs.ErrNotExist):
		return "", fileError(in.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create the directories of %s: %w", in.Path, unwrapPathError(err))
	}
	if err := writeAtomic(ctx, path, []byte(*in.Content), perm); err != nil {
		return "", fmt.Errorf("write %s: %w", in.Path, err)
	}
	verb := "replaced"
	if created {
		verb = "created"
	}
	return fmt.Sprintf("%s %s (%d bytes)", verb, in.Path, len(*in.Content)), nil
}

// tempPrefix starts the names of the temporary files of atomic writes.
const tempPrefix = ".coderclaw-write-"

// writeAtomic replaces the file at path with data: it writes a temporary
// file in the same directory, syncs it and renames it over path, so that a
// reader, a crash or the end of ctx sees either the old content or the new,
// and leaves no temporary file behind.
func writeAtomic(ctx context.Context, path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", unwrapPathError(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return unwrapPathError(err)
	}
	if err = f.Chmod(perm); err != nil {
		return unwrapPathError(err)
	}
	if err = f.Sync(); err != nil {
		return unwrapPathError(err)
	}
	if err = f.Close(); err != nil {
		return unwrapPathError(err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return unwrapPathError(err)
	}
	return nil
}

// FileEdit is the file-edit skill: replaces an exact string in a file.
type FileEdit struct{}

var _ Skill = FileEdit{}

type fileEditInput struct {
	Path       string `json:"path"`
	OldString  string `json:"old_string"`
	NewString  string `json:"new_string"`
	ReplaceAll bool   `json:"replace_all"`
}

// Info implements Skill.
func (FileEdit) Info() coderclaw.Skill {
	return builtinInfo("file-edit", "Edit a file of the workspace by exact string replacement: old_string is replaced by new_string. "+
		"old_string must match the file exactly, whitespace and indentation included (without the line-number prefix file-read shows), "+
		"and must occur exactly once unless replace_all is true; include enough surrounding lines to make it unique. "+
		"The write is atomic. To create a file, use file-write.", false)
}

// Schema implements Skill.
func (FileEdit) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"path":{"type":"string","description":"File to edit, relative to the workspace root."},` +
		`"old_string":{"type":"string","description":"The exact text to replace; must occur exactly once unless replace_all is true."},` +
		`"new_string":{"type":"string","description":"The text to put in its place; must differ from old_string."},` +
		`"replace_all":{"type":"boolean","description":"Replace every occurrence instead of exactly one. Default false."}` +
		`},"required":["path","old_string","new_string"],"additionalProperties":false}`)
}

// decode reads and checks the input of file-edit.
func (FileEdit) decode(input json.RawMessage) (fileEditInput, error) {
	var in fileEditInput
	if err := decodeInput(input, &in); err != nil {
		return in, err
	}
	switch {
	case in.Path == "":
		return in, errors.New("input: path is required")
	case in.OldString == "":
		return in, errors.New("input: old_string must not be empty; to create a file or replace all of it, use file-write")
	case in.OldString == in.NewString:
		return in, errors.New("input: new_string is the same as old_string; nothing would change")
	}
	return in, nil
}

// Call implements Skill.
func (e FileEdit) Call(ctx context.Context, env Env, input json.RawMessage) (string, error) {
	in, err := e.decode(input)
	if err != nil {
		return "", err
	}
	path, err := resolve(env.Dir, in.Path)
	if err != nil {
		return "", err
	}
	f, err := openText(in.Path, path)
	if err != nil {
		return "", err
	}
	fi, data, err := readSmall(f, MaxEditBytes)
	f.Close()
	if err != nil {
		return "", fileError(in.Path, err)
	}
	if fi.Size() > MaxEditBytes || len(data) > MaxEditBytes {
		return "", fmt.Errorf("%s is %d bytes; file-edit changes files of at most %d bytes", in.Path, fi.Size(), MaxEditBytes)
	}
	content := string(data)
	count := strings.Count(content, in.OldString)
	switch {
	case count == 0:
		return "", fmt.Errorf("old_string was not found in %s; it must match the file exactly, whitespace and indentation included", in.Path)
	case count > 1 && !in.ReplaceAll:
		return "", fmt.Errorf("old_string occurs %d times in %s; include more surrounding lines to make it unique, or set replace_all to replace every occurrence", count, in.Path)
	}
	if in.ReplaceAll {
		content = strings.ReplaceAll(content, in.OldString, in.NewString)
	} else {
		content = strings.Replace(content, in.OldString, in.NewString, 1)
	}
	if err := writeAtomic(ctx, path, []byte(content), fi.Mode().Perm()); err != nil {
		return "", fmt.Errorf("write %s: %w", in.Path, err)
	}
	if count == 1 {
		return fmt.Sprintf("edited %s: replaced 1 occurrence", in.Path), nil
	}
	return fmt.Sprintf("edited %s: replaced %d occurrences", in.Path, count), nil
}

// readSmall reads at most limit+1 bytes of f, with its file info.
func readSmall(f *os.File, limit int64) (fs.FileInfo, []byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > limit {
		return fi, nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	return fi, data, err
}
