package webapp

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// go-app's loader (app.js) fetches the bundle through fetchWithProgress,
// which v10.1.11 writes as upstreamFetch: it hands
// WebAssembly.instantiateStreaming a Response rebuilt from a stream, to count
// the bytes for the progress bar. Such a Response has no URL, and Chromium
// keeps a compiled module in its wasm code cache only for a response fetched
// from a URL: every visit compiled the whole bundle again. webapp serves
// go-app's app.js with that one function replaced by cachingFetch, which
// hands over the fetched response itself and counts no bytes (counting
// those of a clone tees the body through the page's thread: see fetch.js).
var (
	//go:embed loader/upstream.js
	upstreamFetch string
	//go:embed loader/fetch.js
	cachingFetch string
)

// loaderScript is go-app's app.js with cachingFetch.
type loaderScript struct {
	body []byte
	etag string
}

// newLoader renders go-app's app.js through pages and replaces its
// fetchWithProgress. It fails, and the caller leaves app.js to go-app, when
// the function is not v10.1.11's (another go-app release): a loader that
// compiles on every visit still works.
func newLoader(pages http.Handler) (*loaderScript, error) {
	req, err := http.NewRequest(http.MethodGet, "/app.js", nil)
	if err != nil {
		return nil, fmt.Errorf("webapp: render app.js: %w", err)
	}
	var rec capture
	pages.ServeHTTP(&rec, req)
	if rec.code != 0 && rec.code != http.StatusOK {
		return nil, fmt.Errorf("webapp: render app.js: go-app answered %d", rec.code)
	}
	js := rec.body.String()
	i := strings.Index(js, "async function fetchWithProgress(")
	if i < 0 || js[i:] != upstreamFetch {
		return nil, fmt.Errorf("webapp: go-app's app.js has not the fetchWithProgress of go-app v10.1.11")
	}
	body := []byte(js[:i] + cachingFetch)
	sum := sha256.Sum256(body)
	return &loaderScript{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

// ServeHTTP serves the script; a revalidation with the same ETag gets 304.
func (l *loaderScript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", l.etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(l.body))
}

// capture is the http.ResponseWriter newLoader renders app.js into.
type capture struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header {
	if c.header == nil {
		c.header = make(http.Header)
	}
	return c.header
}

func (c *capture) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *capture) Write(p []byte) (int, error) { return c.body.Write(p) }
