// Package webapp serves a go-app web app: its pages (rendered on the server
// first, then taken over by the WebAssembly client), the static files under
// /web/, and the wasm bundle itself, precompressed. The app brings its own
// routes and go-app settings (Config.Routes, Config.Handler); webapp knows
// nothing of any particular app.
//
// The build writes DIR/app.wasm and its precompressed copies app.wasm.br
// and app.wasm.gz (cmd/tether-build does, for any wasm main); New reads them
// once. The bundle goes out in the best encoding the browser accepts, as
// application/wasm. Its content hash is the app version: it names the
// service worker's cache, so every rebuild makes browsers install the new
// bundle, and it is the bundle's ETag, so a revalidation never returns a
// stale one. Every page preloads the bundle from its <head>, so the
// download starts with the HTML rather than once the deferred loader runs.
// The loader shows its spinner and the app's LoadingLabel, without a
// percentage: "{progress}" is taken out of the label, because counting the
// bytes would copy the whole bundle through the page's thread (loader.go).
//
// The loader (go-app's app.js, served with its fetchWithProgress replaced,
// see loader.go) hands the fetched response itself to
// WebAssembly.instantiateStreaming, so that Chromium can keep the compiled
// module in its wasm code cache, keyed by the bundle's URL and validated by
// its ETag; a response rebuilt from a stream, as go-app's own loader makes,
// can never be kept. When Chromium writes that cache is V8's choice, and
// in Chromium 148 it is rarely within a visit: at once past a megabyte of
// optimised code, which a page that mostly waits for messages does not
// reach, or 2 s after the first optimised code if nothing more was
// optimised meanwhile, and otherwise minutes later (V8 re-arms that timer
// with milliseconds read as seconds). A page the service worker serves
// finds the cached code beside the Cache Storage entry, which the <head>'s
// preload does not consult; and even a hit leaves the functions that run to
// be compiled on first call. So a returning visit compiles the functions it
// runs again (the README's "Bundle size" has the measurements).
//
// Every response carries the headers a public web app needs: a
// Content-Security-Policy (Config.ContentSecurityPolicy; by default the
// app's own origin only, the wasm allowed by 'wasm-unsafe-eval', nothing
// inline, no framing), X-Frame-Options DENY, X-Content-Type-Options nosniff
// and a Referrer-Policy. go-app's generated page has no inline script; an
// app that styles elements must do it with classes or the CSSOM
// (element.style), not with style attributes. An app that names no icon
// gets Tether's, served under DefaultIconPrefix, rather than go-app's
// default on GitHub, which that policy refuses.
package webapp

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// DefaultDir is the directory New serves when Config.Dir is empty.
const DefaultDir = "web"

// DefaultContentSecurityPolicy is the policy New sends when
// Config.ContentSecurityPolicy is empty: scripts, styles, images, fonts,
// the manifest, the service worker and connections (the app's WebSocket
// included) from the app's own origin only; WebAssembly compiled from
// there ('wasm-unsafe-eval', which allows no JavaScript eval); nothing
// inline; no plugins; no page may frame the app (frame-ancestors 'none');
// forms and <base> stay on the origin.
const DefaultContentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; " +
	"worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// DefaultReferrerPolicy is the Referrer-Policy New sends: the full URL to
// the app's own origin, only the origin to others over HTTPS, nothing over
// HTTP.
const DefaultReferrerPolicy = "strict-origin-when-cross-origin"

// Config configures the web app handler. Every zero field has the default
// documented on it; Handler is required.
type Config struct {
	// Handler is the app's go-app settings: name, title, description,
	// colours, styles, icons, scripts, … (see app.Handler). New sets its
	// Resources (the Dir under /web/), Version (the bundle's content hash)
	// and WasmContentLength (the uncompressed size), which must be left
	// empty, and serves it; do not use it elsewhere. It also adds the
	// bundle's preload to RawHeaders and takes "{progress}" out of
	// LoadingLabel (the loader shows no percentage). Its paths under /web/
	// (Styles, Icon, …) are files of Dir.
	Handler *app.Handler
	// Routes registers the app's pages with go-app (app.Route, app.RouteWithRegexp),
	// the function the wasm main calls before app.RunWhenOnBrowser: the
	// server needs the same routes to render each page before the wasm
	// takes over, and answers 404 for any other path. New calls it once.
	// Nil means the caller has registered them already.
	Routes func()
	// Dir is the directory holding app.wasm (with app.wasm.br and
	// app.wasm.gz) and the app's static files, served under /web/. Empty
	// means "web" (DefaultDir).
	Dir string
	// ContentSecurityPolicy is the Content-Security-Policy header of every
	// response. Empty means DefaultContentSecurityPolicy; an app that
	// loads from other origins (a CDN, an API elsewhere) widens it here.
	ContentSecurityPolicy string
	// Logger receives start-up warnings (e.g. a stale precompressed copy).
	// Nil means slog.Default().
	Logger *slog.Logger
}

// WasmPath is the URL path of the WebAssembly bundle.
const WasmPath = "/web/app.wasm"

// wasmPreload is the <head> element that starts the bundle's download with
// the page. It must match the loader's fetch(WasmPath) (a CORS request with
// same-origin credentials, hence crossorigin="anonymous") for the browser to
// hand the loader the preloaded response rather than download it twice.
const wasmPreload = `<link rel="preload" href="` + WasmPath + `" as="fetch" type="application/wasm" crossorigin="anonymous">`

// New returns the handler of the web app. Mount it at "/" next to the
// WebSocket endpoint and the HTTP API; it answers the app's pages, /web/...,
// the service worker, the manifest and the wasm bundle, and 404 elsewhere.
// It fails when Dir has no app.wasm (build the app first), and when Handler
// is nil or has a field set that New owns.
func New(cfg Config) (http.Handler, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ContentSecurityPolicy == "" {
		cfg.ContentSecurityPolicy = DefaultContentSecurityPolicy
	}
	b, err := loadBundle(cfg.Dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if cfg.Routes != nil {
		// go-app keeps routes in a package-level router; the server needs
		// them too, to render each page before the wasm takes over.
		cfg.Routes()
	}

	pages := cfg.Handler
	defaultIcon(&pages.Icon)
	pages.Resources = staticDir{dir: cfg.Dir, files: http.FileServer(noDirFS{http.Dir(cfg.Dir)})}
	pages.Version = b.version
	// The bundle travels compressed: Content-Length is the compressed
	// size, and go-app's loader wants the raw one.
	pages.WasmContentLength = strconv.Itoa(b.rawSize)
	pages.LoadingLabel = loadingLabel(pages.LoadingLabel)
	// The page asks for the bundle in its <head>: the download starts as
	// the HTML arrives, not when the deferred loader runs after the styles
	// and scripts (about 0.2 s later on a small machine); the loader's
	// fetch then takes the preloaded response.
	pages.RawHeaders = append(slices.Clip(pages.RawHeaders), wasmPreload)

	mux := http.NewServeMux()
	mux.Handle("GET "+WasmPath, b)
	mux.Handle("GET /app.wasm", b)
	mux.Handle("GET /goapp.wasm", b)
	mux.Handle("GET "+DefaultIconPrefix, iconFiles())
	mux.Handle("/", pages)
	if js, err := newLoader(pages); err != nil {
		cfg.Logger.Warn("webapp: serving go-app's own app.js, with which the browser compiles the bundle on every visit", "err", err)
	} else {
		// go-app's loader with one function replaced (loader.go), so that
		// the browser keeps the compiled bundle.
		mux.Handle("GET /app.js", js)
		mux.Handle("GET /goapp.js", js)
	}
	return secured{next: mux, csp: cfg.ContentSecurityPolicy}, nil
}

// secured adds the security headers to every response of next.
type secured struct {
	next http.Handler
	csp  string
}

// ServeHTTP implements http.Handler.
func (s secured) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", DefaultReferrerPolicy)
	s.next.ServeHTTP(w, r)
}

// loadingLabel is the label the loader shows under its spinner: the app's
// without "{progress}", since webapp's loader counts no bytes (loader.go),
// or "Loading…" when the app has none.
func loadingLabel(label string) string {
	label = strings.ReplaceAll(label, "{progress}%", "")
	label = strings.TrimSpace(strings.ReplaceAll(label, "{progress}", ""))
	if label == "" {
		return "Loading…"
	}
	return label
}

// check refuses a Config New cannot serve, naming the field.
func (cfg Config) check() error {
	h := cfg.Handler
	switch {
	case h == nil:
		return errors.New("webapp: Config.Handler is nil: give the app's *app.Handler (its name, title, styles)")
	case h.Resources != nil:
		return errors.New("webapp: Config.Handler.Resources is set: webapp serves Config.Dir under /web/; leave it nil")
	case h.Version != "":
		return fmt.Errorf("webapp: Config.Handler.Version is %q: webapp sets it to the bundle's content hash; leave it empty", h.Version)
	case h.WasmContentLength != "":
		return fmt.Errorf("webapp: Config.Handler.WasmContentLength is %q: webapp sets it to the bundle's size; leave it empty", h.WasmContentLength)
	}
	return nil
}

// staticDir resolves /web/... to itself and serves it from a directory, so
// the web directory can live anywhere (the -web flag) while URLs stay
// /web/....
type staticDir struct {
	dir   string
	files http.Handler
}

// Resolve implements app.ResourceResolver.
func (s staticDir) Resolve(location string) string {
	switch {
	case location == "" || location == "/":
		return "/"
	case strings.HasPrefix(location, "http://"), strings.HasPrefix(location, "https://"):
		return location
	case location == "web" || location == "/web" || strings.HasPrefix(location, "web/") || strings.HasPrefix(location, "/web/"):
		return "/" + strings.Trim(location, "/")
	}
	return location
}

// ServeHTTP serves /web/NAME from the directory.
func (s staticDir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.StripPrefix("/web", s.files).ServeHTTP(w, r)
}

// noDirFS refuses to list directories.
type noDirFS struct{ fs http.FileSystem }

func (n noDirFS) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// bundle is the wasm binary in every encoding it is available in.
type bundle struct {
	version  string
	rawSize  int
	variants map[string]variant // by content coding: "br", "gzip", "identity"
}

// variant is one encoding of the bundle.
type variant struct {
	data []byte
	etag string
}

// loadBundle reads dir/app.wasm and its precompressed copies. A copy that
// does not decompress to the same bytes (left over from an older build) is
// ignored with a warning rather than served.
func loadBundle(dir string, log *slog.Logger) (*bundle, error) {
	name := filepath.Join(dir, "app.wasm")
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("webapp: read wasm bundle (run make build): %w", err)
	}
	sum := sha256.Sum256(raw)
	version := hex.EncodeToString(sum[:8])
	b := &bundle{
		version:  version,
		rawSize:  len(raw),
		variants: map[string]variant{"identity": {data: raw, etag: `"` + version + `"`}},
	}
	for _, enc := range []struct {
		coding, ext string
		open        func(io.Reader) (io.Reader, error)
	}{
		{"br", ".br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"gzip", ".gz", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	} {
		data, err := os.ReadFile(name + enc.ext)
		if errors.Is(err, fs.ErrNotExist) {
			log.Warn("webapp: no precompressed wasm bundle; serving without it", "file", name+enc.ext)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("webapp: read %s: %w", name+enc.ext, err)
		}
		if err := sameContent(data, raw, enc.open); err != nil {
			log.Warn("webapp: ignoring precompressed wasm bundle", "file", name+enc.ext, "err", err)
			continue
		}
		b.variants[enc.coding] = variant{data: data, etag: `"` + version + "-" + enc.ext[1:] + `"`}
	}
	return b, nil
}

// sameContent checks that compressed decompresses to raw.
func sameContent(compressed, raw []byte, open func(io.Reader) (io.Reader, error)) error {
	r, err := open(bytes.NewReader(compressed))
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(raw))+1))
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if !bytes.Equal(got, raw) {
		return errors.New("stale: does not match app.wasm (build again with cmd/tether-build)")
	}
	return nil
}

// ServeHTTP serves the bundle in the best encoding the client accepts.
func (b *bundle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	coding := negotiate(r.Header.Get("Accept-Encoding"), b.available())
	v := b.variants[coding]
	h := w.Header()
	h.Set("Content-Type", "application/wasm")
	h.Add("Vary", "Accept-Encoding")
	// no-cache: the browser may keep the bundle but must revalidate it; the
	// ETag changes with every build, so it never runs an old one.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", v.etag)
	if coding != "identity" {
		h.Set("Content-Encoding", coding)
		// ServeContent leaves Content-Length out of encoded responses; the
		// browser's progress bar and HTTP/1.1 keep-alive want it.
		if r.Header.Get("Range") == "" {
			h.Set("Content-Length", strconv.Itoa(len(v.data)))
		}
	}
	// ServeContent answers If-None-Match (304), Range and HEAD.
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(v.data))
}

// available lists the bundle's encodings, preferred first.
func (b *bundle) available() []string {
	var out []string
	for _, c := range []string{"br", "gzip", "identity"} {
		if _, ok := b.variants[c]; ok {
			out = append(out, c)
		}
	}
	return out
}
