package config_test

import (
	"reflect"
	"testing"

	"github.com/coderclaw/coderclaw/internal/config"
	yaml "go.yaml.in/yaml/v4"
)

// FuzzLoad checks that parsing any bytes never panics; that a failure is
// made of *config.Error values naming the file; and that a success
// validates and survives a round trip through YAML. The seed corpus is in
// testdata/fuzz/FuzzLoad (the quick start's examples and broken files).
func FuzzLoad(f *testing.F) {
	f.Add([]byte("mode: local-only\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		r, err := config.Parse(file, data)
		if err != nil {
			if !reflect.DeepEqual(r, config.Runtime{}) {
				t.Errorf("Parse failed but returned %+v", r)
			}
			for _, e := range errorLines(t, err) {
				if e.File != file || e.Line < 0 || e.Msg == "" {
					t.Errorf("error %q: File=%q Line=%d Msg=%q", e, e.File, e.Line, e.Msg)
				}
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse succeeded with a Runtime that does not validate: %v\n%+v", err, r)
		}
		out, err := yaml.Dump(r)
		if err != nil {
			t.Fatalf("Dump(%+v): %v", r, err)
		}
		again, err := config.Parse(file, out)
		if err != nil {
			t.Fatalf("Parse(Dump(r)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed the Runtime:\n got %+v\nwant %+v\n%s", again, r, out)
		}
	})
}
