package skill

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPathSkillsRefuseEscapes(t *testing.T) {
	t.Parallel()
	skills := []struct {
		s     Skill
		input func(p string) map[string]any
	}{
		{FileRead{}, func(p string) map[string]any { return map[string]any{"path": p} }},
		{FileWrite{}, func(p string) map[string]any { return map[string]any{"path": p, "content": "pwned\n"} }},
		{FileEdit{}, func(p string) map[string]any {
			return map[string]any{"path": p, "old_string": "secret", "new_string": "pwned"}
		}},
		{List{}, func(p string) map[string]any { return map[string]any{"path": p, "pattern": "**"} }},
		{Grep{}, func(p string) map[string]any { return map[string]any{"pattern": "secret|core", "path": p} }},
		{GitDiff{}, func(p string) map[string]any { return map[string]any{"path": p} }},
	}
	for _, sk := range skills {
		t.Run(sk.s.Info().ID, func(t *testing.T) {
			t.Parallel()
			w := newEscapeWorkspace(t)
			for _, tc := range escapes {
				out, err := run(t, sk.s, w.root, input(t, sk.input(tc.path)))
				if err == nil {
					t.Errorf("path %q: got %q, want an error", tc.path, out)
				}
			}
			if got := readFile(t, w.outside, "secret"); got != "secret\n" {
				t.Errorf("outside file changed to %q", got)
			}
			if got := readFile(t, w.root, ".git/config"); got != "[core]\n" {
				t.Errorf(".git/config changed to %q", got)
			}
			entries, err := os.ReadDir(w.outside)
			if err != nil || len(entries) != 1 {
				t.Errorf("outside directory now holds %v (%v)", entries, err)
			}
		})
	}
}

func TestFileRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var many strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&many, "line %d %s\n", i, strings.Repeat("x", 60))
	}
	writeFiles(t, dir, map[string]string{
		"a.txt":     "one\ntwo\nthree\n",
		"nonl.txt":  "one\ntwo",
		"empty.txt": "",
		"long.txt":  strings.Repeat("y", 5000) + "\nshort\n",
		"many.txt":  many.String(),
		"bin.dat":   "text\x00more",
		"d/x.txt":   "x",
	})
	tests := []struct {
		name, input string
		want        string
	}{
		{"whole", `{"path":"a.txt"}`, "     1\tone\n     2\ttwo\n     3\tthree\n"},
		{"no final newline", `{"path":"nonl.txt"}`, "     1\tone\n     2\ttwo\n"},
		{"empty", `{"path":"empty.txt"}`, "(empty file)"},
		{"offset", `{"path":"a.txt","offset":2}`, "     2\ttwo\n     3\tthree\n"},
		{"offset and limit", `{"path":"a.txt","offset":2,"limit":1}`,
			"     2\ttwo\n[output stopped after line 2 at the line limit of 1; read on with offset=3]\n"},
		{"limit reaching the end", `{"path":"a.txt","limit":3}`, "     1\tone\n     2\ttwo\n     3\tthree\n"},
	}
	for _, tc := range tests {
		if got := mustRun(t, FileRead{}, dir, tc.input); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	long := mustRun(t, FileRead{}, dir, `{"path":"long.txt"}`)
	first, rest, _ := strings.Cut(long, "\n")
	if len(first) > MaxLineBytes+40 || !strings.HasSuffix(first, "[line cut]") || rest != "     2\tshort\n" {
		t.Errorf("long line: %d bytes, ends %q; rest %q", len(first), first[len(first)-20:], rest)
	}

	out := mustRun(t, FileRead{}, dir, `{"path":"many.txt"}`)
	if len(out) > MaxReadBytes+200 || !strings.Contains(out, "at the output limit") || !strings.Contains(out, "read on with offset=") {
		t.Errorf("large file: %d bytes, ends %q", len(out), out[len(out)-150:])
	}
	out = mustRun(t, FileRead{}, dir, `{"path":"many.txt","offset":2990}`)
	if !strings.HasPrefix(out, "  2990\tline 2990 ") || !strings.HasSuffix(out, "  3000\tline 3000 "+strings.Repeat("x", 60)+"\n") {
		t.Errorf("tail of a large file: %q", out)
	}

	for _, tc := range []struct{ input, want string }{
		{`{"path":"bin.dat"}`, "binary file"},
		{`{"path":"d"}`, "is a directory"},
		{`{"path":"missing.txt"}`, "missing.txt does not exist"},
		{`{"path":"a.txt","offset":9}`, "offset 9 is past the end of a.txt, which has 3 lines"},
		{`{}`, "path is required"},
		{`{"path":"a.txt","limit":-1}`, "must be positive"},
		{`{"path":"a.txt","lines":3}`, `unknown field "lines"`},
		{`{"path":7}`, `field "path" must be a string`},
	} {
		_, err := run(t, FileRead{}, dir, tc.input)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.input, err, tc.want)
		}
	}
}

func TestFileWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if got := mustRun(t, FileWrite{}, dir, `{"path":"a/b/c.txt","content":"hello\n"}`); got != "created a/b/c.txt (6 bytes)" {
		t.Errorf("create: %q", got)
	}
	if got := readFile(t, dir, "a/b/c.txt"); got != "hello\n" {
		t.Errorf("content %q", got)
	}
	writeFiles(t, dir, map[string]string{"run.sh": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, FileWrite{}, dir, `{"path":"run.sh","content":"#!/bin/sh\necho hi\n"}`); got != "replaced run.sh (18 bytes)" {
		t.Errorf("replace: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("mode after replace: %v %v", fi.Mode(), err)
	}
	mustRun(t, FileWrite{}, dir, `{"path":"empty.txt","content":""}`)
	if got := readFile(t, dir, "empty.txt"); got != "" {
		t.Errorf("empty file holds %q", got)
	}
	noTempFiles(t, dir)

	for _, tc := range []struct{ input, want string }{
		{`{"path":"a"}`, "content is required"},
		{`{"path":"a","content":"x"}`, "a is a directory"},
		{`{"content":"x"}`, "path is required"},
	} {
		if _, err := run(t, FileWrite{}, dir, tc.input); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (FileWrite{}).Call(ctx, Env{Dir: dir}, json.RawMessage(`{"path":"run.sh","content":"new"}`)); err == nil {
		t.Error("write with an ended context succeeded")
	}
	if got := readFile(t, dir, "run.sh"); got != "#!/bin/sh\necho hi\n" {
		t.Errorf("after a cancelled write: %q", got)
	}
	noTempFiles(t, dir)
}

func TestFileEdit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.go":    "package a\n\nfunc A() int { return 1 }\n",
		"dup.txt": "x = 1\nx = 1\nx = 1\n",
		"bin":     "\x00\x01",
	})
	if err := os.Chmod(filepath.Join(dir, "a.go"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, FileEdit{}, dir, input(t, map[string]any{"path": "a.go", "old_string": "return 1", "new_string": "return 2"}))
	if got != "edited a.go: replaced 1 occurrence" {
		t.Errorf("edit: %q", got)
	}
	if c := readFile(t, dir, "a.go"); c != "package a\n\nfunc A() int { return 2 }\n" {
		t.Errorf("after edit: %q", c)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a.go")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after edit: %v %v", fi.Mode(), err)
	}

	_, err := run(t, FileEdit{}, dir, `{"path":"dup.txt","old_string":"x = 1","new_string":"x = 2"}`)
	if err == nil || !strings.Contains(err.Error(), "occurs 3 times in dup.txt") || !strings.Contains(err.Error(), "replace_all") {
		t.Errorf("ambiguous edit: %v", err)
	}
	if c := readFile(t, dir, "dup.txt"); c != "x = 1\nx = 1\nx = 1\n" {
		t.Errorf("ambiguous edit changed the file: %q", c)
	}
	got = mustRun(t, FileEdit{}, dir, `{"path":"dup.txt","old_string":"x = 1","new_string":"x = 2","replace_all":true}`)
	if got != "edited dup.txt: replaced 3 occurrences" || readFile(t, dir, "dup.txt") != "x = 2\nx = 2\nx = 2\n" {
		t.Errorf("replace_all: %q, file %q", got, readFile(t, dir, "dup.txt"))
	}

	for _, tc := range []struct{ input, want string }{
		{`{"path":"a.go","old_string":"return 9","new_string":"x"}`, "old_string was not found in a.go"},
		{`{"path":"a.go","old_string":"","new_string":"x"}`, "old_string must not be empty"},
		{`{"path":"a.go","old_string":"A","new_string":"A"}`, "same as old_string"},
		{`{"path":"new.go","old_string":"a","new_string":"b"}`, "new.go does not exist"},
		{`{"path":"bin","old_string":"\u0001","new_string":"b"}`, "binary file"},
		{`{"path":"a.go","old_string":"A","new_string":"B","all":true}`, `unknown field "all"`},
	} {
		if _, err := run(t, FileEdit{}, dir, tc.input); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.input, err, tc.want)
		}
	}
	noTempFiles(t, dir)
}

// TestFileEditCancelled ends edits' contexts at every moment it can: the
// file must hold its old or its new content, and no temporary file may be
// left.
func TestFileEditCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := strings.Repeat("old line\n", 200_000)
	writeFiles(t, dir, map[string]string{"big.txt": old})
	in := json.RawMessage(`{"path":"big.txt","old_string":"old","new_string":"new","replace_all":true}`)
	want := strings.ReplaceAll(old, "old", "new")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (FileEdit{}).Call(ctx, Env{Dir: dir}, in); err == nil {
		t.Fatal("edit with an ended context succeeded")
	}
	if readFile(t, dir, "big.txt") != old {
		t.Fatal("an edit whose context had ended changed the file")
	}
	noTempFiles(t, dir)

	for i := 0; i < 20; i++ {
		writeFiles(t, dir, map[string]string{"big.txt": old})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := (FileEdit{}).Call(ctx, Env{Dir: dir}, in)
			done <- err
		}()
		cancel()
		err := <-done
		got := readFile(t, dir, "big.txt")
		switch {
		case got == old:
		case got == want && err == nil:
		case got == want:
			t.Fatalf("round %d: the file changed but the edit failed: %v", i, err)
		default:
			t.Fatalf("round %d: the file is neither old nor new (%d bytes; err %v)", i, len(got), err)
		}
		noTempFiles(t, dir)
	}
}
