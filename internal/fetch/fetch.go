// Package fetch makes one HTTP request and reads the whole answer: with the
// browser's fetch under js/wasm (so the wasm bundle leaves net/http's client
// and its HTTP/2 code out), with net/http elsewhere. The kit's browser
// helpers (the client's handshake probe, client/session) use it.
package fetch

import (
	"context"
	"strings"
)

// MaxBody bounds the answer's body that Do reads, in bytes.
const MaxBody = 1 << 20

// Request is one HTTP request.
type Request struct {
	// Method is the HTTP method; "" means GET.
	Method string
	// URL is absolute, or, in a browser, relative to the page.
	URL string
	// Header holds the request's headers.
	Header map[string]string
	// Body is sent when not nil.
	Body []byte
}

// Response is an HTTP answer, read whole.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the answer's headers, names in lower case.
	Header map[string]string
	// Body is the answer's body, at most MaxBody bytes.
	Body []byte
}

// Get returns the header name (any case), or "".
func (r Response) Get(name string) string {
	return r.Header[strings.ToLower(name)]
}

// Do sends r and reads the answer. It fails when no answer came (network
// error, ctx done); an HTTP error status is an answer.
func Do(ctx context.Context, r Request) (Response, error) {
	if r.Method == "" {
		r.Method = "GET"
	}
	return do(ctx, r)
}
