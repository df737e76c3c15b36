package config_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/config"
)

type strictDoc struct {
	Name    string               `yaml:"name"`
	Enabled *bool                `yaml:"enabled"`
	Count   int                  `yaml:"count"`
	Wait    time.Duration        `yaml:"wait"`
	Tags    []string             `yaml:"tags"`
	Parents []string             `yaml:"parents,single"`
	Inner   strictInner          `yaml:"inner"`
	Items   []strictItem         `yaml:"items"`
	Named   map[string]strictRef `yaml:"named"`
	Skipped string               `yaml:"-"`
	hidden  string               //nolint:unused // proves unexported fields are left alone

	validate func(*strictDoc) error
}

type strictInner struct {
	Level string `yaml:"level"`
}

type strictItem struct {
	ID    string   `yaml:"id"`
	Roles []string `yaml:"roles"`
}

type strictRef struct {
	Inherits []string `yaml:"inherits,single"`
	Note     string   `yaml:"note"`
}

func (d *strictDoc) Validate() error {
	if d.validate == nil {
		return nil
	}
	return d.validate(d)
}

func TestDecodeStrictGood(t *testing.T) {
	t.Parallel()
	const src = `# a document using every kind
name: demo
enabled: true
count: 3
wait: 1m30s
tags: [a, b]
parents: solo
inner:
  level: high
items:
  - id: one
    roles: [x]
  - id: two
named:
  first:
    inherits: base
  second:
    inherits: [first, base]
    note: two parents
  empty:
`
	got := strictDoc{Name: "default", Count: 1}
	if err := config.DecodeStrict("doc.yaml", []byte(src), &got); err != nil {
		t.Fatal(err)
	}
	want := strictDoc{
		Name: "demo", Enabled: ptr(true), Count: 3, Wait: 90 * time.Second,
		Tags: []string{"a", "b"}, Parents: []string{"solo"},
		Inner: strictInner{Level: "high"},
		Items: []strictItem{{ID: "one", Roles: []string{"x"}}, {ID: "two"}},
		Named: map[string]strictRef{
			"first":  {Inherits: []string{"base"}},
			"second": {Inherits: []string{"first", "base"}, Note: "two parents"},
			"empty":  {},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestDecodeStrictKeepsDefaults(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# only a comment\n", "---\n~\n", "name:\ncount: ~\n"} {
		got := strictDoc{Name: "default", Count: 7}
		if err := config.DecodeStrict("doc.yaml", []byte(src), &got); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got.Name != "default" || got.Count != 7 {
			t.Errorf("%q: defaults lost: %+v", src, got)
		}
	}
}

func TestDecodeStrictErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		yaml     string
		validate func(*strictDoc) error
		want     []string
	}{
		{
			name: "unknown keys with suggestions",
			yaml: "nmae: x\ninner:\n  levl: 1\nlevel: high\n",
			want: []string{
				`doc.yaml:1: unknown field "nmae" (did you mean "name"?)`,
				`doc.yaml:3: inner: unknown field "levl" (did you mean "level"?)`,
				`doc.yaml:4: unknown field "level" (did you mean "inner.level"?)`,
			},
		},
		{
			name: "fields the file cannot set",
			yaml: "Skipped: x\n-: y\nhidden: z\nvalidate: w\n",
			want: []string{
				`doc.yaml:1: unknown field "Skipped"`,
				`doc.yaml:2: unknown field "-"`,
				`doc.yaml:3: unknown field "hidden"`,
				`doc.yaml:4: unknown field "validate"`,
			},
		},
		{
			name: "wrong types",
			yaml: "name: [a]\ncount: many\nwait: 5\nitems: {id: x}\nnamed: [a]\nparents: {a: b}\ninner: x\n",
			want: []string{
				`doc.yaml:1: name: must be a string, got a list`,
				`doc.yaml:2: count: must be an integer, got "many"`,
				`doc.yaml:3: wait: must be a duration such as "30s" or "1m30s", got 5 (a number needs a unit)`,
				`doc.yaml:4: items: must be a list, got a mapping`,
				`doc.yaml:5: named: must be a mapping of names to settings, got a list`,
				`doc.yaml:6: parents: must be one value or a list such as [a, b], got a mapping`,
				`doc.yaml:7: inner: must be a mapping of settings, got "x"`,
			},
		},
		{
			name: "map keys and entries",
			yaml: "named:\n  a: {}\n  a: {}\n  1: {}\n  b:\n    inherits: 5\n    bogus: 1\n",
			want: []string{
				`doc.yaml:3: named.a: duplicate key (first at line 2)`,
				`doc.yaml:4: named: keys must be names, got 1`,
				`doc.yaml:6: named.b.inherits: must be a string, got 5`,
				`doc.yaml:7: named.b: unknown field "bogus"`,
			},
		},
		{
			name: "list items",
			yaml: "items:\n  - id: a\n  -\n  - id: [b]\n",
			want: []string{
				`doc.yaml:3: items[1]: must not be empty`,
				`doc.yaml:4: items[2].id: must be a string, got a list`,
			},
		},
		{
			name: "top level not a mapping",
			yaml: "[a, b]\n",
			want: []string{`doc.yaml:1: the top level must be a mapping of settings, got a list`},
		},
		{
			name: "syntax",
			yaml: "name: [a\n",
			want: []string{`doc.yaml:2: name: invalid YAML`},
		},
		{
			name: "validation placed by field",
			yaml: "name: x\nitems:\n  - id: a\n    roles: [r1, r2]\nnamed:\n  n1:\n    inherits: solo\n",
			validate: func(*strictDoc) error {
				return errors.Join(
					&config.Error{Field: "items[0].roles[1]", Msg: "unknown role"},
					&config.Error{Field: "named.n1.inherits[0]", Msg: "unknown parent"},
					&config.Error{Field: "named.n1", Msg: "a cycle"},
					&config.Error{Field: "inner.level", Msg: "required"},
					&config.Error{File: "other.yaml", Line: 9, Field: "x", Msg: "kept as is"},
					fmt.Errorf("plain %s", "problem"),
				)
			},
			want: []string{
				`doc.yaml: inner.level: required`,
				`doc.yaml: plain problem`,
				`doc.yaml:4: items[0].roles[1]: unknown role`,
				`doc.yaml:6: named.n1: a cycle`,
				`doc.yaml:7: named.n1.inherits[0]: unknown parent`,
				`other.yaml:9: x: kept as is`,
			},
		},
		{
			name: "validation of a bad field dropped",
			yaml: "name: [x]\n",
			validate: func(*strictDoc) error {
				return &config.Error{Field: "name", Msg: "must not be empty"}
			},
			want: []string{`doc.yaml:1: name: must be a string, got a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := strictDoc{validate: tt.validate}
			err := config.DecodeStrict("doc.yaml", []byte(tt.yaml), &doc)
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range errorLines(t, err) {
				got = append(got, e.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecodeStrictBadSchema(t *testing.T) {
	t.Parallel()
	var s struct {
		F float64 `yaml:"f"`
	}
	var m struct {
		M map[int]string `yaml:"m"`
	}
	for _, dst := range []any{nil, s, &s, &m, new(string)} {
		err := config.DecodeStrict("doc.yaml", []byte("{}"), dst)
		var ce *config.Error
		if err == nil || errors.As(err, &ce) {
			t.Errorf("%T: got %v, want a schema error that is not a *config.Error", dst, err)
		}
	}
}

func TestDecodeStrictKeepsMapNames(t *testing.T) {
	t.Parallel()
	var names []string
	doc := strictDoc{validate: func(d *strictDoc) error {
		for n := range d.Named {
			names = append(names, n)
		}
		return nil
	}}
	err := config.DecodeStrict("doc.yaml", []byte("named:\n  bad: 5\n  worse: {note: [x]}\n"), &doc)
	if got := errorLines(t, err); len(got) != 2 {
		t.Fatalf("errors %v", got)
	}
	if len(names) != 2 {
		t.Errorf("Validate saw %v, want both names", names)
	}
}

// FuzzDecodeStrict checks that decoding any bytes into a schema using
// every supported kind never panics and fails only with *config.Error
// values naming the file. The seed corpus is in
// testdata/fuzz/FuzzDecodeStrict.
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte("name: x\nnamed:\n  a: {inherits: b}\n  b: {inherits: [a, c]}\nitems:\n  - id: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		var doc strictDoc
		err := config.DecodeStrict(file, data, &doc)
		if err == nil {
			return
		}
		for _, e := range errorLines(t, err) {
			if e.File != file || e.Line < 0 || e.Msg == "" {
				t.Errorf("error %q: File=%q Line=%d Msg=%q", e, e.File, e.Line, e.Msg)
			}
		}
	})
}
