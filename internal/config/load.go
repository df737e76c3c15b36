package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
)

// MaxFileSize is the size in bytes above which LoadFile refuses a file.
const MaxFileSize = 1 << 20

// Load returns the configuration in the file at path, or Defaults() when
// there is no such file. It is LoadFile without the found flag.
func Load(path string) (Runtime, error) {
	r, _, err := LoadFile(path)
	return r, err
}

// LoadFile reads the file at path and parses it with Parse. A missing file
// is not an error: LoadFile returns Defaults() and found == false. On error
// the Runtime is the zero value.
func LoadFile(path string) (r Runtime, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Defaults(), false, nil
	}
	if err != nil {
		return Runtime{}, false, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Runtime{}, true, fmt.Errorf("load config: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Runtime{}, true, &Error{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	r, err = Parse(path, data)
	return r, true, err
}

// Parse parses the content of a runtime.yaml on top of Defaults() and
// validates the result. file names the source in errors and may be any
// label. An empty document means Defaults(). On error the Runtime is the
// zero value and the error is one *Error, or several joined, each naming
// file, line and field.
func Parse(file string, data []byte) (Runtime, error) {
	d := &decoder{
		file:  file,
		data:  data,
		lines: map[string]int{},
		set:   map[string]bool{},
		bad:   map[string]bool{},
	}
	r := Defaults()
	root := d.document()
	if root == nil && len(d.errs) > 0 {
		return Runtime{}, join(d.errs)
	}
	if root != nil {
		d.value(root, root.Line, "", reflect.ValueOf(&r).Elem())
	}
	// Either mode key stands for both when the other is absent.
	switch {
	case !d.set["deployment.mode"]:
		if r.Mode.Valid() {
			r.Deployment.Mode = r.Mode
		} else {
			r.Deployment.Mode = "" // mode's own error says it all
		}
	case !d.set["mode"] && r.Deployment.Mode.Valid():
		r.Mode = r.Deployment.Mode
	}
	for _, e := range r.validate() {
		if d.involvesBad(e) {
			continue // already reported as a decoding error
		}
		e.File = file
		e.Line = d.lineOf(e)
		d.errs = append(d.errs, e)
	}
	if len(d.errs) > 0 {
		return Runtime{}, join(d.errs)
	}
	return r, nil
}

// decoder walks a YAML node tree into a Runtime, checking every key
// against the struct's yaml tags and every value against the field's type.
type decoder struct {
	file  string
	data  []byte
	errs  []*Error
	lines map[string]int  // field path → line of its key (first occurrence)
	set   map[string]bool // field paths given a non-null value
	bad   map[string]bool // field paths whose value could not be decoded
}

func (d *decoder) fail(line int, field, format string, args ...any) *Error {
	e := &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	d.errs = append(d.errs, e)
	return e
}

// document returns the root node of the only document in the data, or nil
// when there is none or it cannot be parsed (errors recorded).
func (d *decoder) document() *yaml.Node {
	l, err := yaml.NewLoader(bytes.NewReader(d.data))
	if err != nil {
		d.errs = append(d.errs, &Error{File: d.file, Msg: "invalid YAML: " + err.Error(), Err: err})
		return nil
	}
	var doc yaml.Node
	if err := l.Load(&doc); err == io.EOF {
		return nil
	} else if err != nil {
		d.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := l.Load(&extra); err == nil {
		d.fail(extra.Line, "", "a second YAML document; the file must hold one")
		return nil
	} else if err != io.EOF {
		d.syntax(err)
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return &doc
}

// syntax records a YAML parse error.
func (d *decoder) syntax(err error) {
	var many *yaml.LoadErrors
	if errors.As(err, &many) {
		for _, le := range many.Errors {
			d.syntaxOne(le)
		}
		return
	}
	var le *yaml.LoadError
	if errors.As(err, &le) {
		d.syntaxOne(le)
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Msg: "invalid YAML: " + err.Error(), Err: err})
}

func (d *decoder) syntaxOne(le *yaml.LoadError) {
	line := le.Mark.Line
	msg := "invalid YAML: " + le.Message
	if le.ContextMsg != "" {
		msg += " (" + le.ContextMsg
		if cl := le.ContextMark.Line; cl > 0 && cl != line {
			msg += " at line " + strconv.Itoa(cl)
		}
		msg += ")"
	}
	if tabIndented(d.data, line) {
		msg += "; indent with spaces, not tabs"
	}
	// The field is guessed where the broken construct starts, if known.
	at := line
	if cl := le.ContextMark.Line; cl > 0 && cl < line {
		at = cl
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: fieldAt(d.data, at), Msg: msg, Err: le})
}

// value decodes n into v, whose field path is path; line is where errors
// are reported: the line of the field's key (or of the list item), which
// for an alias is where it is used rather than where the anchor is. It
// reports whether v now holds n's value (false for a null node and for an
// error).
func (d *decoder) value(n *yaml.Node, line int, path string, v reflect.Value) bool {
	n = resolve(n)
	if n == nil || isNull(n) {
		return false // not set: keep the default
	}
	ok := d.decode(n, line, path, v)
	if ok {
		d.set[path] = true
	} else {
		d.bad[path] = true
	}
	return ok
}

func (d *decoder) decode(n *yaml.Node, line int, path string, v reflect.Value) bool {
	tag := n.ShortTag()
	if v.Type() == reflect.TypeFor[time.Duration]() {
		if n.Kind != yaml.ScalarNode || tag != "!!str" {
			hint := ""
			if tag == "!!int" || tag == "!!float" {
				hint = " (a number needs a unit)"
			}
			d.fail(line, path, "must be a duration such as \"30s\" or \"1m30s\", got %s%s", describe(n), hint)
			return false
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.fail(line, path, "must be a duration such as \"30s\" or \"1m30s\", got %s", describe(n)).Err = err
			return false
		}
		v.SetInt(int64(dur))
		return true
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.mapping(n, line, path, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || tag != "!!str" {
			d.fail(line, path, "must be a string, got %s", describe(n))
			return false
		}
		v.SetString(n.Value)
		return true
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(line, path, "must be true or false, got %s", describe(n))
			return false
		}
		v.SetBool(b)
		return true
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || tag != "!!int" {
			d.fail(line, path, "must be an integer, got %s", describe(n))
			return false
		}
		if err := n.Decode(&i); err != nil {
			d.fail(line, path, "must be an integer that fits in %d bits, got %s", strconv.IntSize, describe(n)).Err = err
			return false
		}
		v.SetInt(int64(i))
		return true
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !d.decode(n, line, path, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(line, path, "must be a list such as [a, b], got %s", describe(n))
			return false
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		ok := true
		for i, raw := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			d.lines[p] = raw.Line
			item := resolve(raw)
			if item == nil {
				continue
			}
			if isNull(item) {
				d.fail(raw.Line, p, "must not be empty")
				ok = false
				continue
			}
			ok = d.decode(item, raw.Line, p, s.Index(i)) && ok
		}
		if ok {
			v.Set(s)
		}
		return ok
	}
	// The schema holds only the kinds above; input cannot reach here.
	panic(fmt.Sprintf("config: field %s has unsupported type %s", path, v.Type()))
}

// mapping decodes a mapping node into the struct v.
func (d *decoder) mapping(n *yaml.Node, line int, path string, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			d.fail(line, "", "the top level must be a mapping of settings such as \"mode: local-only\", got %s", describe(n))
		} else {
			d.fail(line, path, "must be a mapping of settings, got %s", describe(n))
		}
		return false
	}
	t := v.Type()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kl := n.Content[i].Line
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(kl, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		name := k.Value
		field := join2(path, name)
		if first, dup := seen[name]; dup {
			d.fail(kl, field, "duplicate key (first at line %d)", first)
			continue
		}
		seen[name] = kl
		idx := fieldIndex(t, name)
		if idx < 0 {
			d.fail(kl, path, "unknown field %s%s", strconv.Quote(clip(name)), suggest(t, path, name))
			continue
		}
		d.lines[field] = kl
		d.value(val, kl, field, v.Field(idx))
	}
	// A section with a bad field is still a mapping; only its fields are bad.
	return true
}

// involvesBad reports whether e concerns a field that failed to decode,
// whose value is therefore the default and not what the file says.
func (d *decoder) involvesBad(e *Error) bool {
	for _, f := range e.fields() {
		for p := f; p != ""; p = parent(p) {
			if d.bad[p] {
				return true
			}
		}
	}
	return false
}

// lineOf places a validation error: the line of its field, else of a
// related field, else of the nearest enclosing section in the file.
func (d *decoder) lineOf(e *Error) int {
	for _, f := range e.fields() {
		if l, ok := d.lines[f]; ok {
			return l
		}
	}
	for _, f := range e.fields() {
		for p := parent(f); p != ""; p = parent(p) {
			if l, ok := d.lines[p]; ok {
				return l
			}
		}
	}
	return 0
}

// parent returns the enclosing path: "a.b" → "a", "a.b[2]" → "a.b", "a" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join2(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldIndex returns the index of the field of struct type t whose yaml
// name is name, or -1.
func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i
		}
	}
	return -1
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// suggest returns a hint for an unknown key: a field of the same mapping
// that looks alike, or a field of that name elsewhere.
func suggest(t reflect.Type, path, name string) string {
	if name == "<<" {
		return " (merge keys are not supported)"
	}
	norm := normalize(name)
	best, bestDist := "", 3
	for i := range t.NumField() {
		f := yamlName(t.Field(i))
		if normalize(f) == norm {
			return fmt.Sprintf(" (did you mean %q?)", f)
		}
		if len(name) > 3 {
			if dist := levenshtein(strings.ToLower(name), strings.ToLower(f)); dist < bestDist {
				best, bestDist = f, dist
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	var found string
	var walk func(t reflect.Type, p string)
	walk = func(t reflect.Type, p string) {
		for i := range t.NumField() {
			f := t.Field(i)
			fp := join2(p, yamlName(f))
			if found == "" && p != path && normalize(yamlName(f)) == norm {
				found = fp
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, fp)
			}
		}
	}
	walk(reflect.TypeFor[Runtime](), "")
	if found != "" {
		return fmt.Sprintf(" (did you mean %q?)", found)
	}
	return ""
}

// normalize folds case and drops separators, so that max_concurrent_tasks
// and MaxConcurrentTasks both match maxConcurrentTasks.
func normalize(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for range 100 {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe words a node for a "got ..." in an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return strconv.Quote(clip(n.Value))
		case "!!null":
			return "null"
		case "!!bool", "!!int", "!!float":
			return clip(n.Value)
		default:
			return tag + " " + strconv.Quote(clip(n.Value))
		}
	}
	return "an empty value"
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// fieldAt guesses the field path at a line of YAML text that did not
// parse, from the indentation of the "key:" lines at and above it.
func fieldAt(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 {
		return ""
	}
	line = min(line, len(lines))
	var path []string
	limit := -1
	for i := line - 1; i >= 0; i-- {
		indent, key, ok := keyOf(lines[i])
		if !ok || (limit >= 0 && indent >= limit) {
			continue
		}
		path = append(path, key)
		limit = indent
		if indent == 0 {
			break
		}
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return strings.Join(path, ".")
}

// keyOf parses a "  key: ..." line into its indentation and key.
func keyOf(line string) (indent int, key string, ok bool) {
	rest := strings.TrimLeft(line, " \t")
	indent = len(line) - len(rest)
	end := 0
	for end < len(rest) && isKeyByte(rest[end]) {
		end++
	}
	if end == 0 || end == len(rest) || rest[end] != ':' {
		return 0, "", false
	}
	if end+1 < len(rest) && rest[end+1] != ' ' && rest[end+1] != '\t' && rest[end+1] != '\r' {
		return 0, "", false
	}
	return indent, rest[:end], true
}

func isKeyByte(c byte) bool {
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// tabIndented reports whether a line's indentation holds a tab.
func tabIndented(data []byte, line int) bool {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return false
	}
	l := lines[line-1]
	return strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t")
}
