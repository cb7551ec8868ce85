package webapp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeBundle writes a wasm-looking app.wasm, its .br and .gz copies and an
// app.css into a new directory.
func fakeBundle(t *testing.T, content []byte) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app.wasm", content)
	var br bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write(content)
	bw.Close()
	write("app.wasm.br", br.Bytes())
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(content)
	gw.Close()
	write("app.wasm.gz", gz.Bytes())
	write("app.css", []byte("body{color:red}"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func wasmContent(seed string) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte(seed), 4096)...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// page is the test app's only component: a go-app app of its own, as any
// app that webapp serves.
type page struct {
	app.Compo
	title string
}

func (p *page) Render() app.UI {
	return app.Main().Class("test-page").Body(app.H1().Text(p.title))
}

// testRoutes are the test app's pages.
func testRoutes() {
	app.Route("/", func() app.Composer { return &page{title: "Home of the test app"} })
	app.Route("/other", func() app.Composer { return &page{title: "Another page"} })
}

func testApp() *app.Handler {
	return &app.Handler{Name: "Test app", Title: "A test app", Styles: []string{"/web/app.css"}}
}

func newHandler(t *testing.T, dir string) http.Handler {
	t.Helper()
	return newAppHandler(t, testApp(), dir)
}

// newAppHandler is newHandler for an app's own go-app settings.
func newAppHandler(t *testing.T, settings *app.Handler, dir string) http.Handler {
	t.Helper()
	h, err := New(Config{Handler: settings, Routes: testRoutes, Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode undoes the response's Content-Encoding.
func decode(t *testing.T, w *httptest.ResponseRecorder) []byte {
	t.Helper()
	var r io.Reader = w.Body
	switch enc := w.Header().Get("Content-Encoding"); enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	case "":
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s body: %v", w.Header().Get("Content-Encoding"), err)
	}
	return b
}

func TestNegotiate(t *testing.T) {
	all := []string{"br", "gzip", "identity"}
	tests := []struct {
		header    string
		available []string
		want      string
	}{
		{"", all, "identity"},
		{"gzip, deflate, br, zstd", all, "br"},
		{"gzip, deflate", all, "gzip"},
		{"br", all, "br"},
		{"BR", all, "br"},
		{"identity", all, "identity"},
		{"*", all, "br"},
		{"br;q=0, *", all, "gzip"},
		{"gzip;q=1.0, br;q=0.9", all, "gzip"},
		{"gzip;q=0.5, br;q=0.5", all, "br"},
		{"br;q=0, gzip;q=0", all, "identity"},
		{"br;q=0, gzip;q=0, identity;q=0", all, "identity"}, // nothing acceptable: identity anyway, no 406
		{"*;q=0", all, "identity"},
		{"*;q=0, gzip", all, "gzip"},
		{"identity;q=1, gzip;q=0.2", all, "identity"},
		{"x-gzip", all, "gzip"},
		{"br;q=abc, gzip", all, "gzip"}, // a malformed q drops that entry
		{"br;q=1.5, gzip", all, "gzip"}, // out of range too
		{"gzip ; q = 0.8 , br ; q=0.7", all, "gzip"},
		{"deflate, zstd", all, "identity"},
		{"gzip, br", []string{"gzip", "identity"}, "gzip"}, // no .br on disk
		{"br", []string{"identity"}, "identity"},
	}
	for _, tt := range tests {
		if got := negotiate(tt.header, tt.available); got != tt.want {
			t.Errorf("negotiate(%q, %v) = %q, want %q", tt.header, tt.available, got, tt.want)
		}
	}
}

func TestWasmEncoding(t *testing.T) {
	content := wasmContent("tether")
	h := newHandler(t, fakeBundle(t, content))
	tests := []struct {
		acceptEncoding string
		wantEncoding   string // Content-Encoding, "" for identity
	}{
		{"gzip, deflate, br", "br"},
		{"gzip", "gzip"},
		{"", ""},
		{"br;q=0, gzip;q=0.8", "gzip"},
		{"identity", ""},
	}
	for _, tt := range tests {
		t.Run(tt.acceptEncoding, func(t *testing.T) {
			w := get(h, WasmPath, "Accept-Encoding", tt.acceptEncoding)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			hd := w.Header()
			if got := hd.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEncoding)
			}
			if got := hd.Get("Content-Type"); got != "application/wasm" {
				t.Errorf("Content-Type = %q, want application/wasm (browsers refuse to stream-compile anything else)", got)
			}
			if got := hd.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary = %q, want Accept-Encoding", got)
			}
			if got := hd.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if hd.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if got, want := hd.Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
				t.Errorf("Content-Length = %q, want %s", got, want)
			}
			if got := decode(t, w); !bytes.Equal(got, content) {
				t.Errorf("decoded body is %d bytes, want the %d-byte bundle", len(got), len(content))
			}
		})
	}
}

func TestWasmETag(t *testing.T) {
	h := newHandler(t, fakeBundle(t, wasmContent("one")))

	br := get(h, WasmPath, "Accept-Encoding", "br")
	gz := get(h, WasmPath, "Accept-Encoding", "gzip")
	id := get(h, WasmPath)
	etags := map[string]string{"br": br.Header().Get("ETag"), "gzip": gz.Header().Get("ETag"), "identity": id.Header().Get("ETag")}
	seen := map[string]string{}
	for enc, tag := range etags {
		if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
			t.Errorf("%s ETag %q is not a quoted strong ETag", enc, tag)
		}
		if other, dup := seen[tag]; dup {
			t.Errorf("%s and %s share ETag %s; each encoding is its own representation", enc, other, tag)
		}
		seen[tag] = enc
	}

	// Revalidation with the current ETag: 304, no body, same validators.
	w := get(h, WasmPath, "Accept-Encoding", "br", "If-None-Match", etags["br"])
	if w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag: status %d, want 304", w.Code)
	}
	if w.Body.Len() != 0 {
		t.Errorf("304 has a %d-byte body", w.Body.Len())
	}
	if got := w.Header().Get("ETag"); got != etags["br"] {
		t.Errorf("304 ETag = %q, want %q", got, etags["br"])
	}
	if got := w.Header().Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("304 Vary = %q, want Accept-Encoding", got)
	}

	// A cached gzip copy presented to a client that now gets br is not fresh.
	if w := get(h, WasmPath, "Accept-Encoding", "br", "If-None-Match", etags["gzip"]); w.Code != http.StatusOK {
		t.Errorf("If-None-Match with another encoding's ETag: status %d, want 200", w.Code)
	}

	// After a rebuild every ETag changes: a browser revalidating its old
	// copy gets the new bundle, never a 304.
	h2 := newHandler(t, fakeBundle(t, wasmContent("two")))
	w = get(h2, WasmPath, "Accept-Encoding", "br", "If-None-Match", etags["br"])
	if w.Code != http.StatusOK {
		t.Fatalf("old ETag after a rebuild: status %d, want 200", w.Code)
	}
	if w.Header().Get("ETag") == etags["br"] {
		t.Error("ETag did not change with the bundle")
	}
}

func TestWasmHeadAndRange(t *testing.T) {
	content := wasmContent("range")
	h := newHandler(t, fakeBundle(t, content))

	r := httptest.NewRequest(http.MethodHead, WasmPath, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: status %d with %d body bytes, want 200 and none", w.Code, w.Body.Len())
	}
	if got := w.Header().Get("Content-Type"); got != "application/wasm" {
		t.Errorf("HEAD Content-Type = %q", got)
	}

	w = get(h, WasmPath, "Range", "bytes=0-3")
	if w.Code != http.StatusPartialContent || w.Body.String() != "\x00asm" {
		t.Errorf("Range: status %d body %q, want 206 and the magic number", w.Code, w.Body.String())
	}
}

func TestStalePrecompressedCopyIgnored(t *testing.T) {
	dir := fakeBundle(t, wasmContent("old"))
	// Rebuild app.wasm without recompressing: the .br and .gz are stale.
	fresh := wasmContent("new")
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), fresh, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, dir)
	w := get(h, WasmPath, "Accept-Encoding", "br, gzip")
	if enc := w.Header().Get("Content-Encoding"); enc != "" {
		t.Fatalf("served the stale %s copy", enc)
	}
	if !bytes.Equal(w.Body.Bytes(), fresh) {
		t.Fatal("did not serve the current app.wasm")
	}
}

func TestMissingBundle(t *testing.T) {
	_, err := New(Config{Handler: testApp(), Dir: t.TempDir(), Logger: quietLogger()})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New without app.wasm: err = %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestPagesAndStatic(t *testing.T) {
	h := newHandler(t, fakeBundle(t, wasmContent("pages")))

	for path, title := range map[string]string{"/": "Home of the test app", "/other": "Another page"} {
		w := get(h, path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200 (server-side rendered page)", path, w.Code)
			continue
		}
		body := w.Body.String()
		for _, want := range []string{title, `class="test-page"`, `href="/web/app.css"`, "/app.js", "A test app"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: page lacks %s", path, want)
			}
		}
	}

	if w := get(h, "/no-such-page"); w.Code != http.StatusNotFound {
		t.Errorf("unknown page: status %d, want 404", w.Code)
	}
	if w := get(h, "/web/app.css"); w.Code != http.StatusOK || w.Body.String() != "body{color:red}" {
		t.Errorf("/web/app.css: status %d body %q", w.Code, w.Body.String())
	}
	if w := get(h, "/web/sub/"); w.Code == http.StatusOK {
		t.Error("/web/sub/ lists a directory")
	}
	if w := get(h, "/web/../webapp.go"); w.Code == http.StatusOK {
		t.Error("/web/.. escapes the web directory")
	}
}

// TestConfigRefused: a Config without the app's settings, or with a field
// that webapp owns, is refused with an error naming the field.
func TestConfigRefused(t *testing.T) {
	dir := fakeBundle(t, wasmContent("refused"))
	for _, tc := range []struct {
		name string
		h    *app.Handler
		want string
	}{
		{"no handler", nil, "Config.Handler is nil"},
		{"own version", &app.Handler{Version: "v1"}, "Config.Handler.Version"},
		{"own size", &app.Handler{WasmContentLength: "12"}, "Config.Handler.WasmContentLength"},
		{"own resources", &app.Handler{Resources: app.LocalDir("elsewhere")}, "Config.Handler.Resources"},
	} {
		_, err := New(Config{Handler: tc.h, Dir: dir, Logger: quietLogger()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New err = %v, want one naming %s", tc.name, err, tc.want)
		}
	}
}

// TestHandlerGetsVersionAndSize: the app's handler is served with the
// bundle's content hash as its version and the raw size for the loader.
func TestHandlerGetsVersionAndSize(t *testing.T) {
	content := wasmContent("sized")
	h := testApp()
	if _, err := New(Config{Handler: h, Dir: fakeBundle(t, content), Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if h.WasmContentLength != strconv.Itoa(len(content)) {
		t.Errorf("WasmContentLength = %q, want the raw size %d", h.WasmContentLength, len(content))
	}
	if len(h.Version) != 16 {
		t.Errorf("Version = %q, want the bundle's 16-hex-digit content hash", h.Version)
	}
}

func TestServiceWorkerFollowsBundle(t *testing.T) {
	worker := func(seed string) string {
		h := newHandler(t, fakeBundle(t, wasmContent(seed)))
		w := get(h, "/app-worker.js")
		if w.Code != http.StatusOK {
			t.Fatalf("/app-worker.js: status %d", w.Code)
		}
		return w.Body.String()
	}
	a, a2, b := worker("same"), worker("same"), worker("other")
	if a != a2 {
		t.Error("the same bundle gives two service workers: browsers would reinstall on every restart")
	}
	if a == b {
		t.Error("a new bundle leaves the service worker unchanged: browsers would keep the old app")
	}
}

// TestSecurityHeaders: every response (page, script, static file, bundle,
// 404) carries the CSP, the framing and sniffing refusals and the
// referrer policy; Config.ContentSecurityPolicy replaces the default.
func TestSecurityHeaders(t *testing.T) {
	dir := fakeBundle(t, wasmContent("secure"))
	h := newHandler(t, dir)
	for _, path := range []string{"/", "/other", "/app.js", "/wasm_exec.js", "/app-worker.js", "/manifest.webmanifest",
		"/web/app.css", WasmPath, "/no-such-page"} {
		w := get(h, path, "Accept-Encoding", "br")
		for name, want := range map[string]string{
			"Content-Security-Policy": DefaultContentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         DefaultReferrerPolicy,
		} {
			if got := w.Header().Get(name); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self';"} {
		if !strings.Contains(DefaultContentSecurityPolicy, want) {
			t.Errorf("the default policy lacks %s", want)
		}
	}
	if strings.Contains(DefaultContentSecurityPolicy, "unsafe-inline") || strings.Contains(DefaultContentSecurityPolicy, "'unsafe-eval'") {
		t.Error("the default policy allows inline code or eval")
	}

	own := "default-src 'self' https://cdn.example"
	h2, err := New(Config{Handler: testApp(), Routes: testRoutes, Dir: dir, Logger: quietLogger(), ContentSecurityPolicy: own})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(h2, "/").Header().Get("Content-Security-Policy"); got != own {
		t.Errorf("with Config.ContentSecurityPolicy the header is %q, want %q", got, own)
	}
}

// TestPageHasNoInlineCode: go-app's generated page loads its scripts from
// files and has no inline handler or style, so the default policy (no
// 'unsafe-inline') runs it. (go-app writes attributes in map order.)
func TestPageHasNoInlineCode(t *testing.T) {
	body := get(newHandler(t, fakeBundle(t, wasmContent("inline"))), "/").Body.String()
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if len(scripts) == 0 {
		t.Fatalf("the page has no script:\n%s", body)
	}
	app := false
	for _, tag := range scripts {
		if !strings.Contains(tag, ` src="/`) {
			t.Errorf("inline script %s (every script must come from a file of the origin)", tag)
		}
		app = app || strings.Contains(tag, ` src="/app.js"`)
	}
	if !app {
		t.Errorf("the page does not load /app.js from a file:\n%s", body)
	}
	for _, bad := range []string{" onload=", " onclick=", " onerror=", " style=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page has inline code %q:\n%s", bad, body)
		}
	}
}

// TestDefaultIcon: an app that names no icon gets icons on its own origin
// (go-app's default points at GitHub, which the policy refuses), served by
// webapp; an app's own PNG stays, and is its SVG too when it has none.
func TestDefaultIcon(t *testing.T) {
	dir := fakeBundle(t, wasmContent("icon"))
	h := newHandler(t, dir) // testApp names no icon
	for _, path := range []string{"/", "/manifest.webmanifest", "/app-worker.js"} {
		body := get(h, path).Body.String()
		if strings.Contains(body, "githubusercontent") || strings.Contains(body, "https://raw.") {
			t.Errorf("GET %s points at an icon elsewhere:\n%s", path, body)
		}
	}
	if page := get(h, "/").Body.String(); !strings.Contains(page, DefaultIconPrefix+"icon.svg") || !strings.Contains(page, DefaultIconPrefix+"icon-192.png") {
		t.Errorf("the page does not use the default icons:\n%s", page)
	}
	for name, ctype := range map[string]string{"icon-192.png": "image/png", "icon-512.png": "image/png", "icon.svg": "image/svg+xml"} {
		w := get(h, DefaultIconPrefix+name)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() == 0 {
			t.Errorf("GET %s%s: %d %q, %d B; want 200 %s", DefaultIconPrefix, name, w.Code, w.Header().Get("Content-Type"), w.Body.Len(), ctype)
		}
	}
	if w := get(h, DefaultIconPrefix); w.Code != http.StatusNotFound {
		t.Errorf("GET %s: %d, want 404 (no listing)", DefaultIconPrefix, w.Code)
	}

	for _, tc := range []struct {
		name string
		in   app.Icon
		want app.Icon
	}{
		{"none", app.Icon{}, app.Icon{Default: "/webapp/icon-192.png", Large: "/webapp/icon-512.png", Maskable: "/webapp/icon-512.png", SVG: "/webapp/icon.svg"}},
		{"own png", app.Icon{Default: "/web/me.png"}, app.Icon{Default: "/web/me.png", SVG: "/web/me.png"}},
		{"own set", app.Icon{Default: "/web/a.png", Large: "/web/b.png", SVG: "/web/c.svg", Maskable: "/web/d.png"},
			app.Icon{Default: "/web/a.png", Large: "/web/b.png", SVG: "/web/c.svg", Maskable: "/web/d.png"}},
	} {
		got := tc.in
		defaultIcon(&got)
		if got != tc.want {
			t.Errorf("%s: defaultIcon = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestLoaderKeepsFetchedResponse: /app.js is go-app's loader with the
// fetchWithProgress that hands WebAssembly.instantiateStreaming the fetched
// response (which the browser's wasm code cache can key by its URL), not a
// Response rebuilt from a stream; the rest of go-app's script is unchanged,
// and a revalidation gets 304.
func TestLoaderKeepsFetchedResponse(t *testing.T) {
	h := newHandler(t, fakeBundle(t, wasmContent("loader")))
	for _, path := range []string{"/app.js", "/goapp.js"} {
		w := get(h, path)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("%s: Content-Type %q, want JavaScript", path, ct)
		}
		js := w.Body.String()
		for _, want := range []string{
			"  return fetch(url);\n}", // the fetched response goes on, untouched
			"instantiateStreaming(\n      fetchWithProgress(\"/web/app.wasm\"", // go-app's caller, unchanged
			"goappInitServiceWorker();",                                        // and the rest of go-app's script
		} {
			if !strings.Contains(js, want) {
				t.Errorf("%s has no %q", path, want)
			}
		}
		if strings.Contains(js, "new ReadableStream") {
			t.Errorf("%s still rebuilds the wasm response from a stream (no code cache)", path)
		}
		if strings.Contains(js, ".clone()") {
			t.Errorf("%s tees the wasm response (every chunk through the page's thread)", path)
		}
		if c := strings.Count(js, "function fetchWithProgress("); c != 1 {
			t.Errorf("%s defines fetchWithProgress %d times, want 1", path, c)
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", path)
		}
		if w := get(h, path, "If-None-Match", etag); w.Code != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %s: status %d, want 304", path, etag, w.Code)
		}
	}
}

// TestLoaderOtherGoAppRelease: a go-app whose app.js has another
// fetchWithProgress keeps its own loader, with a warning, rather than a
// spliced script.
func TestLoaderOtherGoAppRelease(t *testing.T) {
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "async function fetchWithProgress(url) { return fetch(url); }\n")
	})
	if _, err := newLoader(other); err == nil || !strings.Contains(err.Error(), "v10.1.11") {
		t.Errorf("newLoader on another release's app.js: err = %v, want one naming v10.1.11", err)
	}
	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	})
	if _, err := newLoader(failing); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("newLoader on a failing go-app: err = %v, want one naming the status", err)
	}
}

// TestPagePreloadsBundle: every page asks for the bundle in its <head>, as
// the loader fetches it (the same URL, a CORS request: crossorigin), so the
// download starts with the page and the loader takes the preloaded
// response; an app's own raw headers stay.
func TestPagePreloadsBundle(t *testing.T) {
	dir := fakeBundle(t, wasmContent("preload"))
	own := `<meta name="app-own" content="kept">`
	handler := testApp()
	handler.RawHeaders = []string{own}
	h := newAppHandler(t, handler, dir)
	body := get(h, "/").Body.String()
	head, _, ok := strings.Cut(body, "</head>")
	if !ok {
		t.Fatalf("the page has no </head>:\n%s", body)
	}
	links := regexp.MustCompile(`<link[^>]* rel="preload"[^>]*>`).FindAllString(head, -1)
	var wasm []string
	for _, l := range links {
		if strings.Contains(l, `href="`+WasmPath+`"`) {
			wasm = append(wasm, l)
		}
	}
	if len(wasm) != 1 {
		t.Fatalf("the page's head preloads %s %d times, want once: %q", WasmPath, len(wasm), links)
	}
	for _, attr := range []string{`as="fetch"`, `crossorigin="anonymous"`, `type="application/wasm"`} {
		if !strings.Contains(wasm[0], attr) {
			t.Errorf("preload %s has no %s (the loader's fetch would not take it)", wasm[0], attr)
		}
	}
	if !strings.Contains(head, own) {
		t.Errorf("the app's own raw header %s is gone:\n%s", own, head)
	}
	js := get(h, "/app.js").Body.String()
	if !strings.Contains(js, `fetchWithProgress("`+WasmPath+`"`) {
		t.Errorf("the loader does not fetch %s, the preloaded URL", WasmPath)
	}
}

// TestLoadingLabel: the loader counts no bytes, so the label loses its
// "{progress}" (with the % after it); an app without a label gets one.
func TestLoadingLabel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "Loading…"},
		{"{progress}%", "Loading…"},
		{"Loading Tether… {progress}%", "Loading Tether…"},
		{"{progress} percent of the poll", "percent of the poll"},
		{"Starting the poll", "Starting the poll"},
	} {
		if got := loadingLabel(tc.in); got != tc.want {
			t.Errorf("loadingLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	handler := testApp()
	handler.LoadingLabel = "Loading the test app… {progress}%"
	h := newAppHandler(t, handler, fakeBundle(t, wasmContent("label")))
	page := get(h, "/").Body.String()
	if !strings.Contains(page, "Loading the test app…") || strings.Contains(page, "0%") {
		t.Errorf("the page's loader label is not %q:\n%s", "Loading the test app…", page)
	}
	if js := get(h, "/app.js").Body.String(); !strings.Contains(js, `const goappLoadingLabel = "Loading the test app…";`) {
		t.Errorf("app.js has not the label without {progress}")
	}
}
