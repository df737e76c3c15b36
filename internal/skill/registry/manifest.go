package registry

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"

	"github.com/coderclaw/coderclaw/internal/config"
	"github.com/coderclaw/coderclaw/internal/security"
)

// Limits of manifests and indexes.
const (
	// MaxManifestSize bounds a skill.yaml.
	MaxManifestSize = 1 << 20
	// MaxIndexSize bounds an index.yaml.
	MaxIndexSize = 4 << 20
	// MaxIDLen is the longest skill id: model APIs refuse longer tool
	// names.
	MaxIDLen = 64
	// MaxTimeout is the longest timeout a manifest may ask for.
	MaxTimeout = time.Hour
	// maxFiles bounds the files a manifest lists.
	maxFiles = 1024
)

// ManifestFile is the name of a skill's manifest in its directory.
const ManifestFile = "skill.yaml"

// Manifest is a skill's skill.yaml.
type Manifest struct {
	// ID names the skill: 1 to MaxIDLen ASCII letters, digits, '_' and
	// '-'. It is also the name of the skill's directory once installed.
	ID          string `yaml:"id" json:"id"`
	Description string `yaml:"description" json:"description"`
	// Version is the skill's version, compared for equality only.
	Version string `yaml:"version" json:"version"`
	// RequiredPermission is the permission a caller needs; empty means
	// skill:execute.
	RequiredPermission string `yaml:"requiredPermission" json:"required_permission,omitempty"`
	Dangerous          bool   `yaml:"dangerous" json:"dangerous"`
	// Command is the argv run in the task's workspace, with the call's
	// input on stdin. An argument naming a listed file ("run.sh" or
	// "./run.sh") is replaced by that file's installed path.
	Command []string `yaml:"command" json:"command"`
	// Timeout bounds a call; zero means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout_ns,omitempty"`
	// Files lists the files of the skill beside the manifest, each with
	// its checksum.
	Files []File `yaml:"files" json:"files"`

	// Input is the JSON Schema of the call's input (the manifest's input
	// key, written as YAML): a JSON object, {"type":"object"} when the
	// manifest has none.
	Input json.RawMessage `yaml:"-" json:"input"`
}

// File is a file a manifest lists.
type File struct {
	// Path is relative to the skill's directory, with '/' separators, and
	// stays inside it.
	Path string `yaml:"path" json:"path"`
	// SHA256 is the hex SHA-256 of the file's content.
	SHA256 string `yaml:"sha256" json:"sha256"`
}

// Validate checks what decoding cannot; each problem names its field.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &config.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if msg := checkID(m.ID); msg != "" {
		bad("id", "%s", msg)
	}
	if msg := checkVersion(m.Version); msg != "" {
		bad("version", "%s", msg)
	}
	if m.RequiredPermission != "" && !security.Permission(m.RequiredPermission).Valid() {
		bad("requiredPermission", "unknown permission %q", clip(m.RequiredPermission))
	}
	if len(m.Command) == 0 {
		bad("command", "must list the program and its arguments, such as [sh, run.sh]")
	}
	for i, a := range m.Command {
		if a == "" && i == 0 {
			bad("command[0]", "the program must not be empty")
		}
		if strings.IndexByte(a, 0) >= 0 {
			bad("command["+strconv.Itoa(i)+"]", "must not contain a NUL byte")
		}
	}
	if m.Timeout < 0 || m.Timeout > MaxTimeout {
		bad("timeout", "must be between 0s and %s, got %s", MaxTimeout, m.Timeout)
	}
	if len(m.Files) > maxFiles {
		bad("files", "lists %d files, at most %d are allowed", len(m.Files), maxFiles)
	}
	seen := map[string]int{}
	for i, f := range m.Files {
		field := "files[" + strconv.Itoa(i) + "]"
		if msg := checkPath(f.Path); msg != "" {
			bad(field+".path", "%s", msg)
		} else if f.Path == ManifestFile {
			bad(field+".path", "the manifest is not one of its own files")
		} else if j, dup := seen[f.Path]; dup {
			bad(field+".path", "duplicate file %q (also files[%d])", f.Path, j)
		} else {
			seen[f.Path] = i
		}
		if msg := checkSum(f.SHA256); msg != "" {
			bad(field+".sha256", "%s", msg)
		}
	}
	return errors.Join(errs...)
}

// ParseManifest parses the content of a skill.yaml. file names the source
// in errors. The error is one *config.Error or several joined, each naming
// file, line and field.
//
// Everything but input is decoded strictly by config.DecodeStrict (unknown
// keys, wrong types and bad values are errors). input is free-form YAML
// that must convert to a JSON object; when it has a type, the type must be
// object.
func ParseManifest(file string, data []byte) (Manifest, error) {
	if len(data) > MaxManifestSize {
		return Manifest{}, &config.Error{File: file, Msg: fmt.Sprintf("is %d bytes long; a manifest may have at most %d", len(data), MaxManifestSize)}
	}
	rest, input, err := splitInput(file, data)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := config.DecodeStrict(file, rest, &m); err != nil {
		return Manifest{}, err
	}
	m.Input = json.RawMessage(`{"type":"object"}`)
	if input != nil {
		if m.Input, err = inputSchema(file, input); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// splitInput takes the top-level input key out of a manifest, for
// DecodeStrict cannot decode free-form values: it returns data with the
// key's lines blanked (so that lines keep their numbers) and the key's
// value. Data that is not a YAML mapping is returned as it is, for
// DecodeStrict to report.
func splitInput(file string, data []byte) ([]byte, *yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return data, nil, nil
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, nil, &config.Error{File: file, Line: second.Line, Msg: "must hold one YAML document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil, nil
	}
	top := doc.Content[0]
	at := -1
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k := top.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "input" {
			if at >= 0 {
				return nil, nil, &config.Error{File: file, Line: k.Line, Field: "input", Msg: fmt.Sprintf("duplicate key (first at line %d)", top.Content[at].Line)}
			}
			at = i
		}
	}
	if at < 0 {
		return data, nil, nil
	}
	key := top.Content[at]
	if top.Style&yaml.FlowStyle != 0 {
		return nil, nil, &config.Error{File: file, Line: key.Line, Field: "input", Msg: "a manifest with input must be a block mapping, one key per line"}
	}
	// The value runs from the key's line to the line before the next key,
	// or to the end of the document.
	first, end := key.Line, -1
	if at+2 < len(top.Content) {
		end = top.Content[at+2].Line
		if end <= first {
			return nil, nil, &config.Error{File: file, Line: key.Line, Field: "input", Msg: "input must be on lines of its own"}
		}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	out := make([]byte, 0, len(data))
	for i, l := range lines {
		n := i + 1
		if n >= first && (end < 0 || n < end) {
			if bytes.HasSuffix(l, []byte("\n")) {
				out = append(out, '\n')
			}
			continue
		}
		out = append(out, l...)
	}
	return out, top.Content[at+1], nil
}

// inputSchema converts the input value to JSON: an object whose type, if
// given, is object.
func inputSchema(file string, n *yaml.Node) (json.RawMessage, error) {
	fail := func(format string, args ...any) error {
		return &config.Error{File: file, Line: n.Line, Field: "input", Msg: fmt.Sprintf(format, args...)}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return json.RawMessage(`{"type":"object"}`), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fail("must be a JSON Schema written as YAML: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fail("must be a mapping such as {type: object, properties: {...}}, got %s", kindOf(v))
	}
	if t, ok := obj["type"]; ok && t != "object" {
		return nil, fail("type must be object, got %v", clip(fmt.Sprint(t)))
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fail("does not convert to JSON: %v", err)
	}
	return b, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[any]any:
		return "a mapping with keys that are not all strings"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", v)
}

// checkID returns what is wrong with a skill id, or "".
func checkID(id string) string {
	if id == "" {
		return "must not be empty"
	}
	if len(id) > MaxIDLen {
		return fmt.Sprintf("must be at most %d characters long", MaxIDLen)
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Sprintf("must be ASCII letters, digits, '_' and '-', got %q", clip(id))
		}
	}
	if id[0] == '-' {
		return fmt.Sprintf("must not start with '-', got %q", clip(id))
	}
	return ""
}

// checkVersion returns what is wrong with a version, or "".
func checkVersion(v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > 64:
		return "must be at most 64 characters long"
	case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '/' || r == '\\' || r == 0x7f }):
		return fmt.Sprintf("must not contain spaces, slashes or control characters, got %q", clip(v))
	}
	return ""
}

// checkPath returns what is wrong with a path relative to a directory it
// must stay in, or "".
func checkPath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case len(p) > 1024:
		return "must be at most 1024 characters long"
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Sprintf("must use '/' separators and no NUL bytes, got %q", clip(p))
	case !filepath.IsLocal(filepath.FromSlash(p)) || p != filepathToSlashClean(p):
		return fmt.Sprintf("must be a clean relative path inside the skill's directory, got %q", clip(p))
	}
	return ""
}

func filepathToSlashClean(p string) string {
	return filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
}

// checkSum returns what is wrong with a hex SHA-256, or "".
func checkSum(s string) string {
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return fmt.Sprintf("must be 64 hex digits, got %q", clip(s))
	}
	return ""
}

// clip shortens a value for an error message.
func clip(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
