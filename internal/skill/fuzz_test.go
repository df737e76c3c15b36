package skill

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzEditInput checks that file-edit's input decoding never panics and
// accepts only input that names a path and a real change.
func FuzzEditInput(f *testing.F) {
	for _, s := range []string{
		`{"path":"a.go","old_string":"x","new_string":"y"}`,
		`{"path":"a.go","old_string":"x","new_string":"y","replace_all":true}`,
		`{"path":"a.go","old_string":"x","new_string":"x"}`,
		`{"path":"a.go","old_string":"","new_string":"y"}`,
		`{"path":1}`,
		`{"path":"a","old_string":"\u0000","new_string":"\ud800"}`,
		`{"path":"a","old_string":"x","new_string":"y","extra":null}`,
		`{"path":"a","old_string":"x","new_string":"y"} trailing`,
		`[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := FileEdit{}.decode(json.RawMessage(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if in.Path == "" || in.OldString == "" || in.OldString == in.NewString {
			t.Fatalf("accepted %q as %+v", data, in)
		}
	})
}

// FuzzGrepInput checks that grep's input decoding never panics and
// returns a compiled expression for every input it accepts.
func FuzzGrepInput(f *testing.F) {
	for _, s := range []string{
		`{"pattern":"func \\w+\\("}`,
		`{"pattern":"(?i)todo","path":"internal","glob":"**/*.go"}`,
		`{"pattern":"("}`,
		`{"pattern":"x","glob":"[a-"}`,
		`{"pattern":"x{1000}"}`,
		`{"pattern":"x","glob":"{a,b}/*.{go,md}"}`,
		`{"pattern":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, re, err := Grep{}.decode(json.RawMessage(data))
		if err != nil {
			return
		}
		if re == nil || in.Pattern == "" || re.String() != in.Pattern {
			t.Fatalf("accepted %q as %+v, %v", data, in, re)
		}
	})
}

// FuzzCallInput checks the input check of Call: whatever it accepts is one
// valid JSON object.
func FuzzCallInput(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":1} `, ``, `null`, `[1]`, `{"a":`, `{"a":1}{}`, "\xff", `"x"`, `1e999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := objectInput(json.RawMessage(data))
		if err != nil {
			return
		}
		var v map[string]any
		if !json.Valid(in) || !bytes.HasPrefix(in, []byte("{")) || json.Unmarshal(in, &v) != nil {
			t.Fatalf("accepted %q as %q", data, in)
		}
	})
}
