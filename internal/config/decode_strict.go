package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// DecodeStrict decodes the one YAML document in data into the struct dst
// points to, with the strictness and the error form of Parse, for the
// other configuration files (security.yaml, team-policy.yaml, ...). file
// names the source in errors and may be any label.
//
// The schema is dst's type: each field's key is the name in its yaml tag
// (fields without one, tagged "-" or unexported are not settable from the
// file). Fields may be strings, bools, ints, time.Duration (a duration
// string such as "30s"), structs, pointers to these, slices of these, and
// maps with string keys, each key a name the file chooses whose field path
// is "field.key" (a key whose value is null or bad is still added, with
// the zero value or what could be decoded). A slice field whose tag
// carries the option "single", as in `yaml:"inherits,single"`, also
// accepts one value standing for a one-item list. Any other field type
// makes DecodeStrict fail before reading data, with an error that is not
// an *Error.
//
// Decoding starts from what dst holds, so a caller sets defaults first; an
// empty document, or a key with a null value, leaves them. An unknown key,
// a duplicate key and a value of the wrong type are errors; every problem
// found is reported, not only the first.
//
// If dst implements Validate() error, it is called after decoding. Each
// *Error it returns (alone or joined with errors.Join) that has no File is
// placed in file at the line of its Field, or of the nearest enclosing
// field the file sets; errors of other types are wrapped in an *Error
// naming file. Problems about a field whose value could not be decoded are
// dropped, having been reported already.
//
// The error is nil, one *Error, or several joined in line order, as for
// Parse. On error dst may have been partly written.
func DecodeStrict(file string, data []byte, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: DecodeStrict needs a non-nil pointer to a struct, got %T", dst)
	}
	if err := checkSchema(v.Elem().Type(), "", map[reflect.Type]bool{}); err != nil {
		return fmt.Errorf("config: DecodeStrict into %T: %w", dst, err)
	}
	d := &decoder{
		file:  file,
		data:  data,
		lines: map[string]int{},
		set:   map[string]bool{},
		bad:   map[string]bool{},
	}
	root := d.document()
	if root == nil && len(d.errs) > 0 {
		return join(d.errs)
	}
	s := &schemaDecoder{decoder: d, root: v.Elem().Type()}
	if root != nil {
		s.value(root, root.Line, "", v.Elem(), false)
	}
	if vd, ok := dst.(interface{ Validate() error }); ok {
		for _, err := range flatten(vd.Validate()) {
			e, ok := err.(*Error)
			if ok {
				c := *e
				e = &c
			} else {
				e = &Error{Msg: err.Error(), Err: err}
			}
			if e.File != "" {
				d.errs = append(d.errs, e)
				continue
			}
			if d.involvesBad(e) {
				continue
			}
			e.File = file
			if e.Line == 0 {
				e.Line = d.lineOf(e)
			}
			d.errs = append(d.errs, e)
		}
	}
	return join(d.errs)
}

// flatten returns the errors joined in err, depth first; none for nil.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	m, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range m.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// checkSchema reports a field type DecodeStrict cannot fill.
func checkSchema(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if t == reflect.TypeFor[time.Duration]() {
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int:
		return nil
	case reflect.Pointer, reflect.Slice:
		return checkSchema(t.Elem(), path, seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("field %q: map keys must be strings, not %s", path, t.Key())
		}
		return checkSchema(t.Elem(), path, seen)
	case reflect.Struct:
		if seen[t] {
			return nil
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if name := schemaName(f); name != "" {
				if err := checkSchema(f.Type, join2(path, name), seen); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("field %q: unsupported type %s", path, t)
}

// schemaDecoder extends decoder to any schema DecodeStrict accepts: it
// walks structs, maps and the slices holding them itself and leaves every
// other value to decoder.decode.
type schemaDecoder struct {
	*decoder
	root reflect.Type // for suggestions of a key that belongs elsewhere
}

// value is decoder.value for any schema: it decodes n into v, reporting
// whether v now holds n's value.
func (s *schemaDecoder) value(n *yaml.Node, line int, path string, v reflect.Value, single bool) bool {
	n = resolve(n)
	if n == nil || isNull(n) {
		return false
	}
	ok := s.decode(n, line, path, v, single)
	if ok {
		s.set[path] = true
	} else {
		s.bad[path] = true
	}
	return ok
}

func (s *schemaDecoder) decode(n *yaml.Node, line int, path string, v reflect.Value, single bool) bool {
	t := v.Type()
	if single && t.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode {
		if n.Kind != yaml.ScalarNode {
			s.fail(line, path, "must be one value or a list such as [a, b], got %s", describe(n))
			return false
		}
		one := reflect.MakeSlice(t, 1, 1)
		if !s.decode(n, line, path, one.Index(0), false) {
			return false
		}
		v.Set(one)
		return true
	}
	if !walked(t) {
		return s.decoder.decode(n, line, path, v)
	}
	switch t.Kind() {
	case reflect.Struct:
		return s.mapping(n, line, path, v)
	case reflect.Map:
		return s.dict(n, line, path, v)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if !s.decode(n, line, path, p.Elem(), single) {
			return false
		}
		v.Set(p)
		return true
	}
	// A slice of structs or maps.
	if n.Kind != yaml.SequenceNode {
		s.fail(line, path, "must be a list, got %s", describe(n))
		return false
	}
	list := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	ok := true
	for i, raw := range n.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		s.lines[p] = raw.Line
		item := resolve(raw)
		if item == nil {
			continue
		}
		if isNull(item) {
			s.fail(raw.Line, p, "must not be empty")
			ok = false
			continue
		}
		ok = s.decode(item, raw.Line, p, list.Index(i), false) && ok
	}
	if ok {
		v.Set(list)
	}
	return ok
}

// walked reports whether values of type t hold a struct or a map, which
// schemaDecoder walks itself.
func walked(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return true
	case reflect.Pointer, reflect.Slice:
		return walked(t.Elem())
	}
	return false
}

// mapping decodes a mapping node into the struct v, as decoder.mapping
// does for a Runtime.
func (s *schemaDecoder) mapping(n *yaml.Node, line int, path string, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			s.fail(line, "", "the top level must be a mapping of settings, got %s", describe(n))
		} else {
			s.fail(line, path, "must be a mapping of settings, got %s", describe(n))
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
			s.fail(kl, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		name := k.Value
		field := join2(path, name)
		if first, dup := seen[name]; dup {
			s.fail(kl, field, "duplicate key (first at line %d)", first)
			continue
		}
		seen[name] = kl
		idx := schemaField(t, name)
		if idx < 0 {
			s.fail(kl, path, "unknown field %s%s", strconv.Quote(clip(name)), s.suggest(t, path, name))
			continue
		}
		s.lines[field] = kl
		f := t.Field(idx)
		s.value(val, kl, field, v.Field(idx), hasOption(f, "single"))
	}
	return true
}

// dict decodes a mapping node into the map v: each key is a name the file
// chooses, and its value is decoded at the field path "path.key". Every
// key is kept, so that a Validate still knows the names: one with a null
// value, or a value that could not be decoded, holds the zero value or
// what could be decoded.
func (s *schemaDecoder) dict(n *yaml.Node, line int, path string, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		s.fail(line, path, "must be a mapping of names to settings, got %s", describe(n))
		return false
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kl := n.Content[i].Line
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			s.fail(kl, path, "keys must be names, got %s", describe(k))
			continue
		}
		name := k.Value
		field := path + "." + name
		if first, dup := seen[name]; dup {
			s.fail(kl, field, "duplicate key (first at line %d)", first)
			continue
		}
		seen[name] = kl
		s.lines[field] = kl
		elem := reflect.New(t.Elem()).Elem()
		s.value(val, kl, field, elem, false)
		v.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), elem)
	}
	return true
}

// schemaName returns the key of a struct field, or "" for a field the
// file cannot set.
func schemaName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name := yamlName(f)
	if name == "-" {
		return ""
	}
	return name
}

// schemaField returns the index of the field of struct type t whose key is
// name, or -1.
func schemaField(t reflect.Type, name string) int {
	if name == "" {
		return -1
	}
	for i := range t.NumField() {
		if schemaName(t.Field(i)) == name {
			return i
		}
	}
	return -1
}

func hasOption(f reflect.StructField, opt string) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// suggest returns a hint for an unknown key: a field of the same mapping
// that looks alike, or a field of that name elsewhere in the schema.
func (s *schemaDecoder) suggest(t reflect.Type, path, name string) string {
	if name == "<<" {
		return " (merge keys are not supported)"
	}
	norm := normalize(name)
	best, bestDist := "", 3
	for i := range t.NumField() {
		f := schemaName(t.Field(i))
		if f == "" {
			continue
		}
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
	var walk func(t reflect.Type, p string, depth int)
	walk = func(t reflect.Type, p string, depth int) {
		for i := range t.NumField() {
			name := schemaName(t.Field(i))
			if name == "" {
				continue
			}
			fp := join2(p, name)
			if found == "" && p != path && normalize(name) == norm {
				found = fp
			}
			ft := t.Field(i).Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && depth < 8 {
				walk(ft, fp, depth+1)
			}
		}
	}
	walk(s.root, "", 0)
	if found != "" {
		return fmt.Sprintf(" (did you mean %q?)", found)
	}
	return ""
}
