package http

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coderclaw/coderclaw"
)

// The OpenAPI document is maintained by hand beside the handler;
// TestOpenAPIMatchesHandler fails when the two disagree on a route and
// TestOpenAPISchemas when a schema and the Go types or real answers
// disagree.
//
//go:embed openapi.json
var openAPIDoc []byte

// The docs page: Redoc's standalone bundle, checked in with its licences
// by docs/fetch.sh, so that the page works offline and builds need no npm.
//
//go:embed docs/index.html docs/redoc.standalone.js docs/redoc.standalone.js.LICENSE.txt docs/LICENSE.redoc
var docsFS embed.FS

// docsCSP confines the docs page to the node: nothing is loaded from
// elsewhere. Redoc styles with inline <style> elements, runs its search
// index in a blob: worker and may compile schemas with new Function.
const docsCSP = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// OpenAPI returns a copy of the OpenAPI 3.1 document describing the routes
// of NewHandler and the endpoints a node mounts beside them.
func OpenAPI() []byte { return bytes.Clone(openAPIDoc) }

// OpenAPIHandler serves the OpenAPI document as application/json, for the
// route GET /openapi.json. It answers GET and HEAD (405 otherwise),
// honours If-None-Match and compresses with gzip when the client accepts
// it. It is safe for concurrent use.
func OpenAPIHandler() http.Handler {
	return newStaticFile("openapi.json", "application/json", openAPIDoc)
}

// DocsHandler serves an API reference page rendering the OpenAPI document
// (Redoc). Mount it at both GET /docs and GET /docs/ (a subtree); it
// answers by the end of the path:
//
//	/docs                                  the page (HTML)
//	/docs/                                 redirects to /docs
//	/docs/redoc.standalone.js              the renderer
//	/docs/LICENSE.redoc                    its licence and the notices of
//	/docs/redoc.standalone.js.LICENSE.txt  the libraries it bundles
//
// The page loads the document from openapi.json beside it (so mount
// OpenAPIHandler at /openapi.json) and nothing from outside the node: it
// works offline, and its Content-Security-Policy keeps it so. Paths are
// resolved relative to the page, so the page also works behind a proxy
// that adds a path prefix. Any other path below /docs/ is a 404 with the
// JSON error body. It is safe for concurrent use.
func DocsHandler() http.Handler {
	d := &docsHandler{files: map[string]*staticFile{}}
	for name, ctype := range map[string]string{
		"index.html":                      "text/html; charset=utf-8",
		"redoc.standalone.js":             "text/javascript; charset=utf-8",
		"redoc.standalone.js.LICENSE.txt": "text/plain; charset=utf-8",
		"LICENSE.redoc":                   "text/plain; charset=utf-8",
	} {
		b, err := docsFS.ReadFile("docs/" + name)
		if err != nil {
			panic("transport/http: embedded docs file missing: " + name) // the embed directive lists it
		}
		f := newStaticFile(name, ctype, b)
		if name == "index.html" {
			f.csp = docsCSP
		}
		d.files[name] = f
	}
	return d
}

type docsHandler struct {
	files map[string]*staticFile
}

func (d *docsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/docs"):
		d.files["index.html"].ServeHTTP(w, r)
		return
	case strings.HasSuffix(p, "/docs/"):
		// Relative, so that a path prefix added by a proxy survives.
		w.Header().Set("Location", "../docs")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	dir, name := path.Split(p)
	if f := d.files[name]; f != nil && name != "index.html" && strings.HasSuffix(dir, "/docs/") {
		f.ServeHTTP(w, r)
		return
	}
	writeStaticError(w, http.StatusNotFound, coderclaw.Errorf(coderclaw.CodeNotFound, "no route for %s %s", r.Method, p))
}

// staticFile serves one immutable embedded file. Its gzip form is made on
// the first request that accepts it.
type staticFile struct {
	name, ctype, csp string
	body             []byte
	etag             string

	gzipOnce sync.Once
	gz       []byte // nil when compressing does not pay
}

func newStaticFile(name, ctype string, body []byte) *staticFile {
	sum := sha256.Sum256(body)
	return &staticFile{name: name, ctype: ctype, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

func (f *staticFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStaticError(w, http.StatusMethodNotAllowed, coderclaw.Errorf(coderclaw.CodeInvalid,
			"method %s is not allowed on %s (allowed: GET, HEAD)", r.Method, r.URL.Path))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	// Revalidate every time: the ETag makes that a 304 until the node is
	// upgraded, and an upgraded node never serves a stale page.
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if f.csp != "" {
		h.Set("Content-Security-Policy", f.csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
	}
	body, etag := f.body, f.etag
	if acceptsGzip(r) {
		if gz := f.gzipped(); gz != nil {
			body, etag = gz, strings.TrimSuffix(f.etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}

// gzipped returns the file compressed, or nil when that saves too little.
func (f *staticFile) gzipped() []byte {
	f.gzipOnce.Do(func() {
		if len(f.body) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(f.body)                                  // cannot fail: a bytes.Buffer
		if zw.Close() == nil && buf.Len() < len(f.body)*9/10 {
			f.gz = buf.Bytes()
		}
	})
	return f.gz
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// writeStaticError sends the JSON error body with a status, for the
// handlers that live outside NewHandler's mux.
func writeStaticError(w http.ResponseWriter, status int, e *coderclaw.Error) {
	b, _ := json.Marshal(errorBody{Error: e}) // cannot fail: two strings
	h := w.Header()
	h.Del("Content-Encoding")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
