package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/access"
	"github.com/coderclaw/coderclaw/internal/audit"
	"github.com/coderclaw/coderclaw/internal/nodetest"
)

// openAPI is the decoded document with helpers to walk it.
type openAPI struct {
	raw map[string]any
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(OpenAPI()))
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("openapi.json: data after the document")
	}
	return &openAPI{raw: raw}
}

// docOp is one operation of the document.
type docOp struct {
	method, path string // method upper case, path as written ("/api/runtime/tasks/{id}")
	op           map[string]any
	pathItem     map[string]any
	// node is set for operations the node mounts beside NewHandler
	// (x-coderclaw-mount: node), which NewHandler need not serve.
	node bool
}

func (o docOp) String() string { return o.method + " " + o.path }

var docMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (d *openAPI) ops() []docOp {
	var out []docOp
	paths, _ := d.raw["paths"].(map[string]any)
	for p, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range docMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			out = append(out, docOp{method: strings.ToUpper(m), path: p, op: op, pathItem: item,
				node: op["x-coderclaw-mount"] == "node"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (d *openAPI) op(method, path string) (docOp, bool) {
	for _, o := range d.ops() {
		if o.method == method && o.path == path {
			return o, true
		}
	}
	return docOp{}, false
}

// lookup follows a local reference such as "#/components/schemas/Task".
func (d *openAPI) lookup(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local", ref)
	}
	var cur any = d.raw
	for _, seg := range strings.Split(p, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q: %q is not inside an object", ref, seg)
		}
		if cur, ok = m[seg]; !ok {
			return nil, fmt.Errorf("reference %q does not resolve (no %q)", ref, seg)
		}
	}
	return cur, nil
}

// deref follows $ref until an object without one.
func (d *openAPI) deref(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	for range 10 {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		target, err := d.lookup(ref)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok = target.(map[string]any); !ok {
			t.Fatalf("reference %q is not an object", ref)
		}
	}
	t.Fatalf("reference chain too long at %v", v)
	return nil
}

// responseSchema returns the JSON schema of an operation's answer with the
// given status, or false when the operation does not document the status.
func (d *openAPI) responseSchema(t *testing.T, o docOp, status int, mediaType string) (map[string]any, bool) {
	t.Helper()
	resps, _ := o.op["responses"].(map[string]any)
	r, ok := resps[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return nil, false
	}
	r = d.deref(t, r)
	content, _ := r["content"].(map[string]any)
	mt, ok := content[mediaType].(map[string]any)
	if !ok {
		t.Fatalf("%s: response %d has no %s content", o, status, mediaType)
	}
	s, _ := mt["schema"].(map[string]any)
	return s, true
}

// Schema checking: a small JSON Schema validator for the keywords the
// document uses. It is strict on purpose: an object property the schema
// does not declare is an error unless additionalProperties allows it, and a
// keyword it does not know is an error, so the document cannot drift into
// constructs this test silently ignores.

var knownKeywords = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "properties": true,
	"required": true, "additionalProperties": true, "items": true, "format": true,
	"minimum": true, "maximum": true, "maxLength": true, "maxProperties": true,
	"propertyNames": true, "description": true, "example": true, "default": true,
	"title": true,
}

func (d *openAPI) validate(schema map[string]any, v any, at string) []string {
	var errs []string
	d.check(schema, v, at, &errs)
	return errs
}

func (d *openAPI) check(s map[string]any, v any, at string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !knownKeywords[k] {
			fail("schema keyword %q is not supported by this test's validator", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.lookup(ref)
		if err != nil {
			fail("%v", err)
			return
		}
		ts, ok := target.(map[string]any)
		if !ok {
			fail("reference %q is not a schema", ref)
			return
		}
		d.check(ts, v, at, errs)
		return
	}
	if ty, ok := s["type"]; ok {
		var types []string
		switch ty := ty.(type) {
		case string:
			types = []string{ty}
		case []any:
			for _, x := range ty {
				types = append(types, fmt.Sprint(x))
			}
		}
		if got := jsonType(v); !slices.Contains(types, got) && (got != "integer" || !slices.Contains(types, "number")) {
			fail("got JSON %s, schema wants %v", got, types)
			return
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("%v is not %v", v, c)
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := v[fmt.Sprint(r)]; !ok {
				fail("required property %q is missing", r)
			}
		}
		if max, ok := s["maxProperties"].(float64); ok && float64(len(v)) > max {
			fail("%d properties, at most %v allowed", len(v), max)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				d.check(pn, k, at+" (property name "+k+")", errs)
			}
			if ps, ok := props[k].(map[string]any); ok {
				d.check(ps, v[k], at+"."+k, errs)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				d.check(ap, v[k], at+"."+k, errs)
			case bool:
				if !ap {
					fail("property %q is not in the schema", k)
				}
			default:
				fail("property %q is not documented", k)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v {
				d.check(items, x, fmt.Sprintf("%s[%d]", at, i), errs)
			}
		}
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%q is not a date-time", v)
			}
		}
		if max, ok := s["maxLength"].(float64); ok && float64(len([]rune(v))) > max {
			fail("longer than %v", max)
		}
	case float64:
		if min, ok := s["minimum"].(float64); ok && v < min {
			fail("%v is below the minimum %v", v, min)
		}
		if max, ok := s["maximum"].(float64); ok && v > max {
			fail("%v is above the maximum %v", v, max)
		}
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestOpenAPIDocument checks the document's own consistency: references
// resolve, operation ids are unique, path templates and path parameters
// agree, every error answer is the error body, and every example fits its
// schema.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	if v, _ := d.raw["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi version %q, want 3.1.x", v)
	}
	// Every reference anywhere resolves.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := d.lookup(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(d.raw, "#")

	tags := map[string]bool{}
	for _, tg := range asSlice(d.raw["tags"]) {
		tags[fmt.Sprint(tg.(map[string]any)["name"])] = true
	}
	ids := map[string]string{}
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range d.ops() {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", o)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", o, id, prev)
		}
		ids[id] = o.String()
		for _, tg := range asSlice(o.op["tags"]) {
			if !tags[fmt.Sprint(tg)] {
				t.Errorf("%s: tag %v is not declared", o, tg)
			}
		}
		// Path parameters: exactly the template's names, required.
		declared := map[string]bool{}
		for _, params := range [][]any{asSlice(o.pathItem["parameters"]), asSlice(o.op["parameters"])} {
			for _, p := range params {
				p := d.deref(t, p.(map[string]any))
				if p["in"] == "path" {
					declared[fmt.Sprint(p["name"])] = true
					if p["required"] != true {
						t.Errorf("%s: path parameter %v is not required", o, p["name"])
					}
				}
			}
		}
		for _, m := range tmpl.FindAllStringSubmatch(o.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", o, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: parameter %q is not in the path", o, name)
		}
		// Answers: JSON errors are the error body.
		resps, _ := o.op["responses"].(map[string]any)
		if len(resps) == 0 {
			t.Errorf("%s: no responses", o)
		}
		for code, r := range resps {
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 599 {
				t.Errorf("%s: response key %q is not a status code", o, code)
				continue
			}
			if n < 400 {
				continue
			}
			r := d.deref(t, r.(map[string]any))
			content, _ := r["content"].(map[string]any)
			if mt, ok := content["application/json"].(map[string]any); ok {
				if s, _ := mt["schema"].(map[string]any); s["$ref"] != "#/components/schemas/ErrorBody" && s["$ref"] != "#/components/schemas/Health" {
					t.Errorf("%s: %d answer is not the error body: %v", o, n, s)
				}
			} else if !o.node {
				t.Errorf("%s: %d answer has no application/json content", o, n)
			}
		}
	}

	// Every example fits its schema.
	var examples func(v any, at string)
	examples = func(v any, at string) {
		m, ok := v.(map[string]any)
		if !ok {
			if s, ok := v.([]any); ok {
				for i, x := range s {
					examples(x, fmt.Sprintf("%s/%d", at, i))
				}
			}
			return
		}
		if schema, ok := m["schema"].(map[string]any); ok {
			if ex, ok := m["example"]; ok {
				checkExample(t, d, schema, ex, at+"/example")
			}
			if exs, ok := m["examples"].(map[string]any); ok {
				for name, ex := range exs {
					checkExample(t, d, schema, ex.(map[string]any)["value"], at+"/examples/"+name)
				}
			}
		}
		if strings.HasPrefix(at, "#/components/schemas/") && strings.Count(at, "/") == 3 {
			if ex, ok := m["example"]; ok {
				checkExample(t, d, m, ex, at+"/example")
			}
		}
		for k, x := range m {
			examples(x, at+"/"+k)
		}
	}
	examples(d.raw, "#")
}

func checkExample(t *testing.T, d *openAPI, schema map[string]any, ex any, at string) {
	t.Helper()
	for _, e := range d.validate(schema, ex, at) {
		t.Error(e)
	}
}

// handlerRoute is a pattern NewHandler registers.
type handlerRoute struct {
	method string // empty: every method
	path   string // with wildcards as in the OpenAPI document
}

func (r handlerRoute) String() string { return strings.TrimSpace(r.method + " " + r.path) }

var (
	methodPattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE) (/\S*)$`)
	restWildcard  = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`)
)

// handlerRoutes reads the routes this package's handler registers from its
// source, so the list can never fall out of step with it: every string
// literal that is a ServeMux pattern with a method ("GET /path"), and the
// first argument of every Handle and HandleFunc call that is a literal.
// The probe in TestOpenAPIMatchesHandler makes sure each one is real.
func handlerRoutes(t *testing.T) []handlerRoute {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[handlerRoute]bool{}
	add := func(pattern string) {
		r := handlerRoute{path: pattern}
		if m := methodPattern.FindStringSubmatch(pattern); m != nil {
			r = handlerRoute{method: m[1], path: m[2]}
		} else if !strings.HasPrefix(pattern, "/") {
			return // a host pattern or not a pattern at all
		}
		r.path = restWildcard.ReplaceAllString(strings.ReplaceAll(r.path, "{$}", ""), "{$1}")
		seen[r] = true
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && methodPattern.MatchString(s) {
					add(s)
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(n.Args) != 2 {
					return true
				}
				if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						add(s)
					}
				}
			}
			return true
		})
	}
	out := make([]handlerRoute, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	if len(out) == 0 {
		t.Fatal("found no route patterns in the package's source")
	}
	return out
}

// unrouted reports whether an answer is the mux's own "no such route" (404
// with the no-route message, or 405) rather than a route's answer.
func unrouted(t *testing.T, resp *http.Response) bool {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusMethodNotAllowed:
		return true
	case http.StatusNotFound:
		var body errorBody
		return json.Unmarshal(b, &body) == nil && body.Error != nil && strings.HasPrefix(body.Error.Message, "no route for ")
	}
	return false
}

// finishedTask submits a noop task to rt and waits for it to complete.
func finishedTask(t *testing.T, rt coderclaw.Runtime) coderclaw.Task {
	t.Helper()
	ctx := testCtx(t)
	task, err := rt.Submit(ctx, coderclaw.SubmitRequest{Input: "x", AgentID: "noop"})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rt.Stream(ctx, task.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
	}
	return task
}

// TestOpenAPIMatchesHandler fails when a route and the document disagree:
// every route the handler registers (read from its source) must be in the
// document and be served, and every operation of the document must be
// served by the handler, unless the node mounts it beside the handler
// (x-coderclaw-mount: node).
func TestOpenAPIMatchesHandler(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	n := nodetest.New(t)
	base, _ := serve(t, NewHandler(n, HandlerOptions{}))
	hc := rawClient(t)
	done := finishedTask(t, n)

	probe := func(method, path string) bool {
		t.Helper()
		u := base + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, url.PathEscape(done.ID))
		req, err := http.NewRequestWithContext(testCtx(t), method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		return !unrouted(t, resp)
	}

	routes := handlerRoutes(t)
	t.Logf("handler routes: %v", routes)
	served := map[string]bool{} // "METHOD path" and "* path"
	for _, r := range routes {
		m := r.method
		if m == "" {
			m = "*"
		}
		served[m+" "+r.path] = true
		probeMethod := r.method
		if probeMethod == "" {
			probeMethod = http.MethodGet
		}
		if !probe(probeMethod, r.path) {
			t.Errorf("the source registers %s, but the handler does not serve it", r)
		}
		// Handler -> document.
		documented := false
		for _, o := range d.ops() {
			if o.path == r.path && (r.method == "" || o.method == r.method) {
				documented = true
			}
		}
		if !documented {
			t.Errorf("the handler serves %s, which openapi.json does not document", r)
		}
	}
	// Document -> handler.
	for _, o := range d.ops() {
		inSource := served[o.method+" "+o.path] || served["* "+o.path] ||
			(o.method == http.MethodHead && served["GET "+o.path])
		switch {
		case o.node && !inSource:
			continue // mounted by the node; TestOpenAPIDocsRoutes covers the docs pair
		case !inSource:
			t.Errorf("openapi.json documents %s, which the handler does not register", o)
		case !probe(o.method, o.path):
			t.Errorf("openapi.json documents %s, which the handler does not serve", o)
		}
	}
}

// docSchemaTypes ties the document's schemas to the Go types that go on
// the wire, so that a field added to a type (even one the samples never
// show, such as an omitempty field) must be documented.
var docSchemaTypes = []struct {
	schema string
	typ    reflect.Type
	// request: only the property names are compared; a response's required
	// properties are exactly the fields without omitempty.
	request bool
}{
	{"Task", reflect.TypeFor[taskBody](), false},
	{"ChildTask", reflect.TypeFor[coderclaw.ChildTask](), false},
	{"TaskPage", reflect.TypeFor[pageBody](), false},
	{"Event", reflect.TypeFor[coderclaw.Event](), false},
	{"EventList", reflect.TypeFor[eventsBody](), false},
	{"Agent", reflect.TypeFor[coderclaw.Agent](), false},
	{"AgentList", reflect.TypeFor[agentsBody](), false},
	{"Skill", reflect.TypeFor[coderclaw.Skill](), false},
	{"SkillList", reflect.TypeFor[skillsBody](), false},
	{"NodeStatus", reflect.TypeFor[coderclaw.NodeStatus](), false},
	{"StoreHealth", reflect.TypeFor[coderclaw.StoreHealth](), false},
	{"Health", reflect.TypeFor[healthBody](), false},
	{"Error", reflect.TypeFor[coderclaw.Error](), false},
	{"ErrorBody", reflect.TypeFor[errorBody](), false},
	{"SubmitRequest", reflect.TypeFor[submitBody](), true},
	{"RespondRequest", reflect.TypeFor[respondRequest](), true},
}

// jsonField is a field as encoding/json encodes it.
type jsonField struct {
	name      string
	omitEmpty bool
	typ       reflect.Type
}

// jsonFieldsOf lists the JSON fields of a struct type, with embedded structs
// flattened as encoding/json does.
func jsonFieldsOf(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFieldsOf(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		out = append(out, jsonField{name: name, omitEmpty: omit, typ: f.Type})
	}
	return out
}

// wantJSONType is the JSON type a Go type encodes to; "" means any.
func wantJSONType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[json.RawMessage]():
		return ""
	case t == reflect.TypeFor[time.Time]():
		return "string"
	case t.Implements(reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()):
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// TestOpenAPISchemasMatchGoTypes compares each wire type's JSON fields
// with its schema's properties: the same names, the same JSON types, and
// for answers, required exactly when the field is always sent.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	for _, c := range docSchemaTypes {
		s := d.deref(t, map[string]any{"$ref": "#/components/schemas/" + c.schema})
		props, _ := s["properties"].(map[string]any)
		required := map[string]bool{}
		for _, r := range asSlice(s["required"]) {
			required[fmt.Sprint(r)] = true
		}
		fields := jsonFieldsOf(c.typ)
		names := map[string]bool{}
		for _, f := range fields {
			names[f.name] = true
			p, ok := props[f.name].(map[string]any)
			if !ok {
				t.Errorf("schema %s lacks property %q of %v", c.schema, f.name, c.typ)
				continue
			}
			p = d.deref(t, p)
			want := wantJSONType(f.typ)
			var got []string
			switch ty := p["type"].(type) {
			case string:
				got = []string{ty}
			case []any:
				for _, x := range ty {
					got = append(got, fmt.Sprint(x))
				}
			}
			switch {
			case want == "" && len(got) != 0:
				t.Errorf("schema %s.%s: type %v, but %v takes any JSON value", c.schema, f.name, got, f.typ)
			case want != "" && !slices.Contains(got, want):
				t.Errorf("schema %s.%s: type %v, but %v encodes as %s", c.schema, f.name, got, f.typ, want)
			}
			if c.request {
				continue
			}
			if !f.omitEmpty && !required[f.name] {
				t.Errorf("schema %s: %q is always sent, so it must be required", c.schema, f.name)
			}
			if f.omitEmpty && required[f.name] {
				t.Errorf("schema %s: %q is omitted when empty, so it must not be required", c.schema, f.name)
			}
			if !f.omitEmpty && isNilable(f.typ) && !slices.Contains(got, "null") && !alwaysMadeNonNil[c.schema+"."+f.name] {
				t.Errorf("schema %s.%s: %v may encode as null; allow null or make the handler send a non-nil value", c.schema, f.name, f.typ)
			}
		}
		for name := range props {
			if !names[name] {
				t.Errorf("schema %s documents %q, which %v does not have", c.schema, name, c.typ)
			}
		}
	}
}

// alwaysMadeNonNil lists the slice fields the handler replaces with empty
// slices before answering, so they are never null.
var alwaysMadeNonNil = map[string]bool{
	"TaskPage.tasks": true, "EventList.events": true, "AgentList.agents": true, "SkillList.skills": true,
	"ErrorBody.error": true, // every error body has an error
}

func isNilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return t != reflect.TypeFor[json.RawMessage]()
	}
	return false
}

// exchange is one request to the real handler and the documented answer
// it must get.
type exchange struct {
	name         string
	method, path string // path as requested
	op           string // the document's path template
	body, ctype  string
	header       map[string]string
	status       int
}

// TestOpenAPIAnswersMatchSchemas sends real requests to a handler in front
// of a real node and checks that each answer's status is documented for
// its operation and that its body fits the documented schema: every
// required property present, no undocumented property. The stream's
// frames are checked against the Event schema. Each operation that the
// handler serves must be covered by at least one exchange.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	n := nodetest.New(t)
	al := n.Store.AuditLog()
	if _, err := al.Append(testCtx(t), []audit.Entry{{Time: time.Now(), Action: "task.submit", UserID: "local", ResourceType: "task", ResourceID: "t1", Result: audit.ResultOK}}); err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, NewHandler(n, HandlerOptions{Version: "1.2.3", MaxBodyBytes: 64 << 10, Audit: &AuditOptions{
		Store: al, Authenticator: access.Local{},
		Admin: func(context.Context, coderclaw.Principal) bool { return true },
	}}))
	hc := rawClient(t)
	ctx := testCtx(t)

	done := finishedTask(t, n)
	child, err := n.Submit(ctx, coderclaw.SubmitRequest{Input: "x", AgentID: "noop", ParentID: done.ID})
	if err != nil {
		t.Fatal(err)
	}
	running, err := n.Submit(ctx, coderclaw.SubmitRequest{Input: "sleep 30", AgentID: "shell"})
	if err != nil {
		t.Fatal(err)
	}
	const tasks = "/api/runtime/tasks"
	const byID = tasks + "/{id}"
	big := `{"input":"` + strings.Repeat("x", 65<<10) + `","agent_id":"noop"}`
	exchanges := []exchange{
		{"submit", "POST", tasks + "/submit", tasks + "/submit", `{"input":"x","agent_id":"noop","description":"d","labels":{"a":"b"},"metadata":{"k":"v"},"priority":5,"project":"p","session_id":"s"}`, "application/json", nil, 201},
		{"submit dialect", "POST", tasks + "/submit", tasks + "/submit", `{"agent_type":"noop","prompt":"x","context":{"project":"my-app","depth":3}}`, "application/json", nil, 201},
		{"submit invalid", "POST", tasks + "/submit", tasks + "/submit", `{"input":" ","agent_id":"noop"}`, "application/json", nil, 400},
		{"submit unknown field", "POST", tasks + "/submit", tasks + "/submit", `{"input":"x","agent_id":"noop","nope":1}`, "application/json", nil, 400},
		{"submit unknown agent", "POST", tasks + "/submit", tasks + "/submit", `{"input":"x","agent_id":"nobody"}`, "", nil, 400},
		{"submit too large", "POST", tasks + "/submit", tasks + "/submit", big, "application/json", nil, 413},
		{"submit not json", "POST", tasks + "/submit", tasks + "/submit", `input=x`, "application/x-www-form-urlencoded", nil, 415},
		{"list", "GET", tasks + "?status=completed,pending&limit=2", tasks, "", "", nil, 200},
		{"list all", "GET", tasks, tasks, "", "", nil, 200},
		{"list bad", "GET", tasks + "?staus=x", tasks, "", "", nil, 400},
		{"task", "GET", tasks + "/" + done.ID, byID, "", "", nil, 200},
		{"task unknown", "GET", tasks + "/nope", byID, "", "", nil, 404},
		{"state", "GET", tasks + "/" + child.ID + "/state", byID + "/state", "", "", nil, 200},
		{"state unknown", "GET", tasks + "/nope/state", byID + "/state", "", "", nil, 404},
		{"events", "GET", tasks + "/" + done.ID + "/events", byID + "/events", "", "", nil, 200},
		{"events unknown", "GET", tasks + "/nope/events", byID + "/events", "", "", nil, 404},
		{"stream bad after", "GET", tasks + "/" + done.ID + "/stream", byID + "/stream", "", "", map[string]string{"Last-Event-ID": "x"}, 400},
		{"stream unknown", "GET", tasks + "/nope/stream", byID + "/stream", "", "", nil, 404},
		{"cancel", "POST", tasks + "/" + running.ID + "/cancel", byID + "/cancel", "", "", nil, 200},
		{"cancel finished", "POST", tasks + "/" + done.ID + "/cancel", byID + "/cancel", "", "", nil, 409},
		{"cancel unknown", "POST", tasks + "/nope/cancel", byID + "/cancel", "", "", nil, 404},
		{"respond not waiting", "POST", tasks + "/" + done.ID + "/respond", byID + "/respond", `{"input":"yes"}`, "application/json", nil, 409},
		{"respond unknown", "POST", tasks + "/nope/respond", byID + "/respond", `{"input":"yes"}`, "application/json", nil, 404},
		{"respond bad", "POST", tasks + "/" + done.ID + "/respond", byID + "/respond", `{"answer":"yes"}`, "application/json", nil, 400},
		{"respond not json", "POST", tasks + "/" + done.ID + "/respond", byID + "/respond", `yes`, "text/plain", nil, 415},
		{"agents", "GET", "/api/runtime/agents", "/api/runtime/agents", "", "", nil, 200},
		{"skills", "GET", "/api/runtime/skills", "/api/runtime/skills", "", "", nil, 200},
		{"status", "GET", "/api/runtime/status", "/api/runtime/status", "", "", nil, 200},
		{"healthz", "GET", "/healthz", "/healthz", "", "", nil, 200},
		{"create session", "POST", "/api/runtime/sessions", "/api/runtime/sessions", `{"user_id":"u","device_id":"d"}`, "application/json", nil, 501},
		{"get session", "GET", "/api/runtime/sessions/s1", "/api/runtime/sessions/{id}", "", "", nil, 501},
		{"audit events", "GET", "/api/audit/events?action=task.submit&limit=5", "/api/audit/events", "", "", nil, 200},
		{"audit bad query", "GET", "/api/audit/events?limit=x", "/api/audit/events", "", "", nil, 400},
		{"audit user", "GET", "/api/audit/users/local/activity", "/api/audit/users/{id}/activity", "", "", nil, 200},
		{"audit session", "GET", "/api/audit/sessions/s1/activity", "/api/audit/sessions/{id}/activity", "", "", nil, 200},
		{"audit verify", "GET", "/api/audit/verify", "/api/audit/verify", "", "", nil, 200},
	}
	covered := map[string]bool{}
	for _, x := range exchanges {
		o, ok := d.op(x.method, x.op)
		if !ok {
			t.Errorf("%s: openapi.json has no operation %s %s", x.name, x.method, x.op)
			continue
		}
		covered[o.String()] = true
		got := do(t, hc, base, x)
		if got.status != x.status {
			t.Errorf("%s: status %d, want %d; body %s", x.name, got.status, x.status, got.body)
			continue
		}
		checkAnswer(t, d, o, x.name, got)
	}

	// The stream: every frame's data fits Event; the frame's id and event
	// name agree with it.
	o, _ := d.op("GET", byID+"/stream")
	covered[o.String()] = true
	for _, after := range []string{"", "1"} {
		got := do(t, hc, base, exchange{method: "GET", path: tasks + "/" + done.ID + "/stream", header: map[string]string{"Last-Event-ID": after}})
		if got.status != 200 || !strings.HasPrefix(got.ctype, "text/event-stream") {
			t.Fatalf("stream: status %d, Content-Type %q", got.status, got.ctype)
		}
		if _, ok := d.responseSchema(t, o, 200, "text/event-stream"); !ok {
			t.Fatalf("stream: 200 text/event-stream is not documented")
		}
		p := newSSEParser(strings.NewReader(got.body), 1<<20)
		frames := 0
		for {
			f, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			frames++
			var ev map[string]any
			if err := json.Unmarshal([]byte(f.Data), &ev); err != nil {
				t.Fatalf("stream frame %v: %v", f, err)
			}
			schema := map[string]any{"$ref": "#/components/schemas/Event"}
			if f.Event == sseError {
				schema = map[string]any{"$ref": "#/components/schemas/ErrorBody"}
			}
			if f.Event != sseEnd {
				for _, e := range d.validate(schema, ev, "stream "+f.Event) {
					t.Error(e)
				}
			}
			if f.Event != sseEnd && f.Event != sseError && (f.Event != ev["type"] || f.ID != fmt.Sprint(ev["seq"])) {
				t.Errorf("stream frame id %q event %q, data type %v seq %v", f.ID, f.Event, ev["type"], ev["seq"])
			}
		}
		if frames == 0 {
			t.Errorf("stream after %q: no frames", after)
		}
	}

	// 405 from the mux is the error body too.
	got := do(t, hc, base, exchange{method: "DELETE", path: "/api/runtime/agents"})
	if got.status != http.StatusMethodNotAllowed || got.header.Get("Allow") == "" {
		t.Errorf("DELETE agents: status %d, Allow %q", got.status, got.header.Get("Allow"))
	}
	for _, e := range d.validate(map[string]any{"$ref": "#/components/schemas/ErrorBody"}, got.json(t), "405") {
		t.Error(e)
	}

	for _, o := range d.ops() {
		if !o.node && !covered[o.String()] {
			t.Errorf("%s: no exchange in this test checks its answers; add one", o)
		}
	}
}

// TestOpenAPIErrorStatuses makes every runtime call fail with each code
// that does not depend on the request and checks that the status it gets
// is documented for the operation, with the error body.
func TestOpenAPIErrorStatuses(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	hc := rawClient(t)
	bodies := map[string]string{
		"/api/runtime/tasks/submit":       `{"input":"x","agent_id":"noop"}`,
		"/api/runtime/tasks/{id}/respond": `{"input":"yes"}`,
	}
	for _, code := range []coderclaw.Code{coderclaw.CodeUnauthenticated, coderclaw.CodeForbidden, coderclaw.CodeInternal, coderclaw.CodeUnavailable, coderclaw.CodeNotFound} {
		base, _ := serve(t, NewHandler(fixedRuntime{coderclaw.Errorf(code, "fixed %s", code)}, HandlerOptions{}))
		for _, o := range d.ops() {
			if o.node || strings.HasPrefix(o.path, "/api/runtime/sessions") {
				continue // not answered by the runtime
			}
			if code == coderclaw.CodeNotFound && !strings.Contains(o.path, "{id}") {
				continue // only calls naming a task can miss it
			}
			x := exchange{name: fmt.Sprintf("%s with %s", o, code), method: o.method,
				path: strings.ReplaceAll(o.path, "{id}", "t1"), body: bodies[o.path]}
			got := do(t, hc, base, x)
			if _, ok := d.responseSchema(t, o, got.status, "application/json"); !ok {
				t.Errorf("%s: status %d is not documented (body %s)", x.name, got.status, got.body)
				continue
			}
			checkAnswer(t, d, o, x.name, got)
		}
	}
}

// answer is what an exchange got.
type answer struct {
	status int
	ctype  string
	header http.Header
	body   string
}

func (a answer) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, a.body)
	}
	return v
}

func do(t *testing.T, hc *http.Client, base string, x exchange) answer {
	t.Helper()
	var body io.Reader
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), x.method, base+x.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if x.ctype != "" {
		req.Header.Set("Content-Type", x.ctype)
	}
	for k, v := range x.header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", x.method, x.path, err)
	}
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), header: resp.Header, body: string(b)}
}

// checkAnswer checks a JSON answer against the schema documented for its
// operation and status.
func checkAnswer(t *testing.T, d *openAPI, o docOp, name string, got answer) {
	t.Helper()
	if got.ctype != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", name, got.ctype)
		return
	}
	schema, ok := d.responseSchema(t, o, got.status, "application/json")
	if !ok {
		t.Errorf("%s: %s does not document status %d", name, o, got.status)
		return
	}
	for _, e := range d.validate(schema, got.json(t), fmt.Sprintf("%s (%s %d)", name, o, got.status)) {
		t.Error(e)
	}
	if got.status == http.StatusCreated {
		if loc := got.header.Get("Location"); !strings.HasPrefix(loc, "/api/runtime/tasks/") {
			t.Errorf("%s: Location %q", name, loc)
		}
	}
}

// TestOpenAPIDocsRoutes serves the document and the docs page the way a
// node mounts them beside NewHandler and checks that the page needs nothing
// from outside the node.
func TestOpenAPIDocsRoutes(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/", NewHandler(fixedRuntime{errReached}, HandlerOptions{}))
	mux.Handle("GET /openapi.json", OpenAPIHandler())
	docs := DocsHandler()
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/", docs)
	base, _ := serve(t, mux)
	hc := rawClient(t)
	get := func(path string, header map[string]string) answer {
		t.Helper()
		return do(t, hc, base, exchange{method: "GET", path: path, header: header})
	}

	doc := get("/openapi.json", nil)
	if doc.status != 200 || doc.ctype != "application/json" || doc.body != string(openAPIDoc) {
		t.Fatalf("/openapi.json: status %d, Content-Type %q, %d bytes", doc.status, doc.ctype, len(doc.body))
	}
	etag := doc.header.Get("ETag")
	if etag == "" || get("/openapi.json", map[string]string{"If-None-Match": etag}).status != http.StatusNotModified {
		t.Errorf("/openapi.json: ETag %q does not revalidate", etag)
	}
	// The client's transport asks for gzip and decompresses transparently;
	// ask explicitly to see the encoded form.
	gz := get("/openapi.json", map[string]string{"Accept-Encoding": "gzip"})
	if gz.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("/openapi.json: not compressed for a client accepting gzip")
	} else if zr, err := gzip.NewReader(strings.NewReader(gz.body)); err != nil {
		t.Error(err)
	} else if b, err := io.ReadAll(zr); err != nil || string(b) != string(openAPIDoc) {
		t.Errorf("/openapi.json: gzip form differs: %v", err)
	}
	if a := get("/openapi.json", map[string]string{"Accept-Encoding": "gzip;q=0"}); a.header.Get("Content-Encoding") != "" {
		t.Errorf("/openapi.json: compressed although gzip;q=0")
	}
	post := do(t, hc, base, exchange{method: "POST", path: "/openapi.json"})
	if post.status == 200 {
		t.Errorf("POST /openapi.json answered 200")
	}
	// Without a mux in front, the handler refuses other methods itself.
	rec := do(t, hc, serveAlone(t, OpenAPIHandler()), exchange{method: "DELETE", path: "/openapi.json"})
	if rec.status != http.StatusMethodNotAllowed || rec.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE on OpenAPIHandler: %d, Allow %q", rec.status, rec.header.Get("Allow"))
	}

	page := get("/docs", nil)
	if page.status != 200 || !strings.HasPrefix(page.ctype, "text/html") {
		t.Fatalf("/docs: status %d, Content-Type %q", page.status, page.ctype)
	}
	csp := page.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("/docs: Content-Security-Policy %q does not confine the page to the node", csp)
	}
	// Every reference of the page is relative and served by the node.
	if m := regexp.MustCompile(`url\(|@import|<link[^>]+stylesheet|<iframe`).FindString(page.body); m != "" {
		t.Errorf("/docs: the page loads something with %q; keep to the references checked here", m)
	}
	refs := regexp.MustCompile(`(?:src|href|spec-url)="([^"]*)"`).FindAllStringSubmatch(page.body, -1)
	if len(refs) < 2 {
		t.Fatalf("/docs: found %d references in the page", len(refs))
	}
	pageURL, _ := url.Parse(base + "/docs")
	for _, m := range refs {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		u, err := pageURL.Parse(m[1])
		if err != nil || u.Host != pageURL.Host {
			t.Errorf("/docs: reference %q is not on the node", m[1])
			continue
		}
		a := get(u.RequestURI(), nil)
		if a.status != 200 {
			t.Errorf("/docs: reference %q (%s) answers %d", m[1], u.Path, a.status)
		}
		if strings.HasSuffix(u.Path, ".js") && (!strings.HasPrefix(a.ctype, "text/javascript") || len(a.body) < 500<<10 || !strings.Contains(a.body, `"2.5.4"`)) {
			t.Errorf("/docs: %s: Content-Type %q, %d bytes: not the Redoc 2.5.4 bundle", u.Path, a.ctype, len(a.body))
		}
	}
	// The document lists exactly the files DocsHandler serves.
	d := loadOpenAPI(t)
	o, ok := d.op("GET", "/docs/{file}")
	if !ok {
		t.Fatal("openapi.json does not document GET /docs/{file}")
	}
	var listed []string
	for _, p := range asSlice(o.pathItem["parameters"]) {
		for _, v := range asSlice(d.deref(t, p.(map[string]any))["schema"].(map[string]any)["enum"]) {
			listed = append(listed, fmt.Sprint(v))
		}
	}
	var files []string
	for name := range docs.(*docsHandler).files {
		if name != "index.html" {
			files = append(files, name)
		}
	}
	slices.Sort(listed)
	slices.Sort(files)
	if !slices.Equal(listed, files) {
		t.Errorf("openapi.json lists the docs files %v, DocsHandler serves %v", listed, files)
	}
	for _, f := range files {
		if a := get("/docs/"+f, nil); a.status != 200 {
			t.Errorf("/docs/%s: status %d", f, a.status)
		}
	}
	for _, lic := range []string{"/docs/LICENSE.redoc", "/docs/redoc.standalone.js.LICENSE.txt"} {
		if a := get(lic, nil); a.status != 200 || !strings.HasPrefix(a.ctype, "text/plain") || !strings.Contains(a.body, "MIT") {
			t.Errorf("%s: status %d, Content-Type %q", lic, a.status, a.ctype)
		}
	}
	// /docs/ leads to /docs with a relative redirect; unknown files are
	// JSON 404s; the page itself is not served under another name.
	noRedirect := &http.Client{Transport: hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if a := do(t, noRedirect, base, exchange{method: "GET", path: "/docs/"}); a.status != http.StatusMovedPermanently || a.header.Get("Location") != "../docs" {
		t.Errorf("/docs/: status %d, Location %q", a.status, a.header.Get("Location"))
	}
	for _, p := range []string{"/docs/nope.js", "/docs/index.html", "/docs/x/redoc.standalone.js"} {
		a := get(p, nil)
		if a.status != http.StatusNotFound || a.ctype != "application/json" {
			t.Errorf("%s: status %d, Content-Type %q", p, a.status, a.ctype)
		}
	}
	// Behind a proxy that adds a prefix, the page's relative references
	// still land on the node's routes.
	prefixed, _ := url.Parse(base + "/coderclaw/docs")
	for _, m := range refs {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		if u, _ := prefixed.Parse(m[1]); !strings.HasPrefix(u.Path, "/coderclaw/") {
			t.Errorf("/docs: reference %q escapes a path prefix (%s)", m[1], u.Path)
		}
	}
}

// serveAlone serves h at the root and returns the base URL.
func serveAlone(t *testing.T, h http.Handler) string {
	t.Helper()
	base, _ := serve(t, h)
	return base
}

// TestAcceptsGzip checks the Accept-Encoding reading of the static files.
func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "br, gzip": true, "gzip;q=0.5": true,
		"gzip;q=0": false, "gzip; q=0.000": false, "identity": false, "deflate, br": false, "x-gzip": false,
	} {
		r, _ := http.NewRequestWithContext(context.Background(), "GET", "/", nil)
		if v != "" {
			r.Header.Set("Accept-Encoding", v)
		}
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: %v, want %v", v, got, want)
		}
	}
}
