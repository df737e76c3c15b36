package skill

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuiltins(t *testing.T) {
	t.Parallel()
	set, err := NewSet(Builtins()...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, info := range set.Infos() {
		ids = append(ids, info.ID)
		if info.RequiredPermission != "skill:execute" || info.Source != "builtin" || len(info.Description) < 80 {
			t.Errorf("%s: %+v", info.ID, info)
		}
		if want := info.ID == "shell-exec" || info.ID == "run-tests"; info.Dangerous != want {
			t.Errorf("%s: dangerous %v, want %v", info.ID, info.Dangerous, want)
		}
	}
	want := []string{"file-read", "file-write", "file-edit", "list", "grep", "shell-exec", "git-status", "git-diff", "git-commit", "run-tests"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("builtins %v, want %v", ids, want)
	}
}

// TestSchemas checks every built-in schema: an object schema whose
// required properties exist, which the skill's input decoding agrees
// with: every property it declares is accepted with a value of its type,
// and a property it does not declare is refused.
func TestSchemas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, s := range Builtins() {
		id := s.Info().ID
		var schema struct {
			Type       string `json:"type"`
			Properties map[string]struct {
				Type        string `json:"type"`
				Description string `json:"description"`
			} `json:"properties"`
			Required             []string `json:"required"`
			AdditionalProperties *bool    `json:"additionalProperties"`
		}
		if err := json.Unmarshal(s.Schema(), &schema); err != nil {
			t.Errorf("%s: schema: %v", id, err)
			continue
		}
		if schema.Type != "object" || schema.Properties == nil || schema.AdditionalProperties == nil || *schema.AdditionalProperties {
			t.Errorf("%s: schema %s", id, s.Schema())
		}
		for _, r := range schema.Required {
			if _, ok := schema.Properties[r]; !ok {
				t.Errorf("%s: required %q is not a property", id, r)
			}
		}
		for name, p := range schema.Properties {
			if p.Description == "" {
				t.Errorf("%s.%s: no description", id, name)
			}
			var v any
			switch p.Type {
			case "string":
				v = ""
			case "integer":
				v = 1
			case "boolean":
				v = false
			default:
				t.Errorf("%s.%s: type %q", id, name, p.Type)
				continue
			}
			_, err := run(t, s, dir, input(t, map[string]any{name: v}))
			if err != nil && (strings.Contains(err.Error(), "unknown field") || strings.Contains(err.Error(), "must be a")) {
				t.Errorf("%s: declared property %s refused: %v", id, name, err)
			}
		}
		if _, err := run(t, s, dir, `{"undeclared":1}`); err == nil || !strings.Contains(err.Error(), `unknown field "undeclared"`) {
			t.Errorf("%s: undeclared property: %v", id, err)
		}
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	if _, err := NewSet(FileRead{}, Grep{}, FileRead{}); err == nil || !strings.Contains(err.Error(), `two skills have the id "file-read"`) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSet(FileRead{}, nil); err == nil || !strings.Contains(err.Error(), "skill 1 is nil") {
		t.Errorf("nil: %v", err)
	}
	set, err := NewSet(Builtins()...)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := set.Get("grep"); !ok || s.Info().ID != "grep" {
		t.Errorf("Get(grep) = %v, %v", s, ok)
	}
	if _, ok := set.Get("nope"); ok {
		t.Error("Get(nope) found a skill")
	}
	sub, err := set.Select([]string{"grep", "file-read"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, info := range sub.Infos() {
		ids = append(ids, info.ID)
	}
	if !slices.Equal(ids, []string{"grep", "file-read"}) || len(sub.Skills()) != 2 {
		t.Errorf("selected %v", ids)
	}
	if _, err := set.Select([]string{"grep", "teleport"}); err == nil || !strings.Contains(err.Error(), `unknown skill "teleport" (known: file-read, `) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := set.Select([]string{"grep", "grep"}); err == nil {
		t.Error("selecting an id twice succeeded")
	}
	var zero *Set
	if _, ok := zero.Get("grep"); ok || zero.Infos() != nil {
		t.Error("nil set is not empty")
	}
	if _, err := zero.Select([]string{"grep"}); err == nil || !strings.Contains(err.Error(), "(known: none)") {
		t.Errorf("select from nil set: %v", err)
	}
}
