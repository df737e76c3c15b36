package registry_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw/internal/skill/registry"
)

var sum64 = strings.Repeat("ab", 32)

func TestParseManifest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		input      string // the JSON the input must become
	}{
		{"input in the middle", `
id: go-lint
description: Run the linters.
version: 1.2.0
input:        # JSON Schema
  type: object

  properties: { path: { type: string } }
# a comment
command: ["sh", "run.sh"]
files:
  - path: run.sh
    sha256: ` + sum64 + "\n", `{"properties":{"path":{"type":"string"}},"type":"object"}`},
		{"input last, a sequence at the key's indentation", `id: a
version: "1"
command: [x]
input:
  type: object
  required:
  - path
...
`, `{"required":["path"],"type":"object"}`},
		{"no input", "id: a\nversion: v1\ncommand: [x]\n", `{"type":"object"}`},
		{"null input", "id: a\nversion: v1\ninput:\ncommand: [x]\n", `{"type":"object"}`},
		{"flow input", "id: a\nversion: v1\ninput: {properties: {n: {type: integer, minimum: 1}}}\ncommand: [x]\ntimeout: 5m\n",
			`{"properties":{"n":{"minimum":1,"type":"integer"}}}`},
	} {
		m, err := registry.ParseManifest("skill.yaml", []byte(tc.yaml))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(m.Input) != tc.input {
			t.Errorf("%s: input %s, want %s", tc.name, m.Input, tc.input)
		}
		if len(m.Command) == 0 || m.ID == "" {
			t.Errorf("%s: manifest %+v", tc.name, m)
		}
	}
	m, err := registry.ParseManifest("skill.yaml", []byte("id: a\nversion: v1\ncommand: [x]\ntimeout: 5m\nrequiredPermission: task:read\ndangerous: true\n"))
	if err != nil || m.Timeout != 5*time.Minute || m.RequiredPermission != "task:read" || !m.Dangerous {
		t.Errorf("manifest %+v, %v", m, err)
	}
}

func TestParseManifestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key after input keeps its line", "id: a\nversion: v1\ninput:\n  type: object\n  properties: {}\ncomand: [x]\n",
			`skill.yaml:6: unknown field "comand" (did you mean "command"?)`},
		{"wrong type", "id: a\nversion: 1.2\ncommand: [x]\n", "skill.yaml:2: version: must be a string, got 1.2"},
		{"bad id", "id: go lint\nversion: v1\ncommand: [x]\n", `skill.yaml:1: id: must be ASCII letters, digits, '_' and '-', got "go lint"`},
		{"long id", "id: " + strings.Repeat("x", 65) + "\nversion: v1\ncommand: [x]\n", "id: must be at most 64 characters long"},
		{"no command", "id: a\nversion: v1\n", "command: must list the program"},
		{"unknown permission", "id: a\nversion: v1\ncommand: [x]\nrequiredPermission: root\n", `skill.yaml:4: requiredPermission: unknown permission "root"`},
		{"timeout too long", "id: a\nversion: v1\ncommand: [x]\ntimeout: 2h\n", "skill.yaml:4: timeout: must be between 0s and 1h0m0s"},
		{"escaping file", "id: a\nversion: v1\ncommand: [x]\nfiles:\n  - path: sub/../../x\n    sha256: " + sum64 + "\n",
			`skill.yaml:5: files[0].path: must be a clean relative path inside the skill's directory, got "sub/../../x"`},
		{"absolute file", "id: a\nversion: v1\ncommand: [x]\nfiles:\n  - path: /etc/passwd\n    sha256: " + sum64 + "\n", "files[0].path: must be a clean relative path"},
		{"duplicate file", "id: a\nversion: v1\ncommand: [x]\nfiles:\n  - {path: r, sha256: " + sum64 + "}\n  - {path: r, sha256: " + sum64 + "}\n",
			`skill.yaml:6: files[1].path: duplicate file "r" (also files[0])`},
		{"manifest as a file", "id: a\nversion: v1\ncommand: [x]\nfiles:\n  - {path: skill.yaml, sha256: " + sum64 + "}\n", "the manifest is not one of its own files"},
		{"bad checksum", "id: a\nversion: v1\ncommand: [x]\nfiles:\n  - {path: r, sha256: xyz}\n", `files[0].sha256: must be 64 hex digits, got "xyz"`},
		{"input a list", "id: a\nversion: v1\ncommand: [x]\ninput: [1, 2]\n", "skill.yaml:4: input: must be a mapping such as {type: object"},
		{"input not an object", "id: a\nversion: v1\ncommand: [x]\ninput: {type: string}\n", "skill.yaml:4: input: type must be object, got string"},
		{"input with odd keys", "id: a\nversion: v1\ncommand: [x]\ninput:\n  1: x\n", "input: must be a mapping"},
		{"duplicate input", "id: a\ninput: {}\nversion: v1\ncommand: [x]\ninput: {}\n", "skill.yaml:5: input: duplicate key (first at line 2)"},
		{"flow manifest with input", "{id: a, version: v1, command: [x], input: {}}\n", "must be a block mapping"},
		{"two documents", "id: a\nversion: v1\ncommand: [x]\n---\nid: b\n", "must hold one YAML document"},
		{"not a mapping", "- a\n", "skill.yaml:1: the top level must be a mapping"},
		{"too big", "id: a\n" + strings.Repeat("#", registry.MaxManifestSize), "a manifest may have at most"},
	} {
		_, err := registry.ParseManifest("skill.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestParseIndexErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"duplicate", "skills:\n  - {name: a, version: v1, path: a, sha256: " + sum64 + "}\n  - {name: a, version: v2, path: b, sha256: " + sum64 + "}\n",
			`index.yaml:3: skills[1].name: duplicate skill "a" (also skills[0])`},
		{"unknown key", "skills:\n  - {name: a, version: v1, path: a, sha: x}\n", `index.yaml:2: skills[0]: unknown field "sha"`},
		{"escaping path", "skills:\n  - {name: a, version: v1, path: /abs, sha256: " + sum64 + "}\n", "skills[0].path: must be a clean relative path"},
	} {
		_, err := registry.ParseIndex("index.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", tc.name, err, tc.want)
		}
	}
	x, err := registry.ParseIndex("index.yaml", []byte("skills:\n  - {name: a, version: v1, path: skills/a, sha256: "+sum64+"}\n"))
	if e, ok := x.Lookup("a"); err != nil || !ok || e.Path != "skills/a" {
		t.Errorf("index %+v, %v", x, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("id: go-lint\nversion: 1.2.0\ncommand: [sh, run.sh]\ninput:\n  type: object\n  properties: { path: { type: string } }\nfiles:\n  - path: run.sh\n    sha256: " + sum64 + "\n"))
	f.Add([]byte("id: a\nversion: v1\ncommand: [x]\ninput:\n- 1\n"))
	f.Add([]byte("{id: a, input: {}}"))
	f.Add([]byte("input: &a {}\nid: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := registry.ParseManifest("skill.yaml", data)
		if err != nil {
			return
		}
		var schema map[string]any
		if err := json.Unmarshal(m.Input, &schema); err != nil {
			t.Fatalf("input %q is not a JSON object: %v", m.Input, err)
		}
		if ty, ok := schema["type"]; ok && ty != "object" {
			t.Fatalf("input type %v", ty)
		}
		if m.ID == "" || len(m.ID) > registry.MaxIDLen || len(m.Command) == 0 || m.Command[0] == "" {
			t.Fatalf("invalid manifest accepted: %+v", m)
		}
		for _, f := range m.Files {
			if strings.HasPrefix(f.Path, "/") || strings.Contains("/"+f.Path+"/", "/../") || f.Path == registry.ManifestFile {
				t.Fatalf("path %q accepted", f.Path)
			}
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("skills:\n  - {name: a, version: v1, path: skills/a, sha256: " + sum64 + "}\n"))
	f.Add([]byte("skills: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := registry.ParseIndex("index.yaml", data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range x.Skills {
			if e.Name == "" || seen[e.Name] || strings.HasPrefix(e.Path, "/") || strings.Contains("/"+e.Path+"/", "/../") {
				t.Fatalf("invalid entry accepted: %+v", e)
			}
			seen[e.Name] = true
		}
	})
}
