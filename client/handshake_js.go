//go:build js && wasm

package client

import (
	"context"
	"net/url"

	"github.com/tetherkit/tether/internal/fetch"
)

// A browser does not tell scripts why a WebSocket handshake failed: a 401, a
// ban and a dead server all look like close code 1006. So when a dial fails
// before the socket opened, BrowserTransport asks the same URL again with a
// plain GET (no upgrade; docs/protocol.md §1): the server refuses it exactly
// like the handshake, status, JSON body and Retry-After, and the core gets
// the same *HandshakeError a NativeTransport returns. The browser sends the
// login cookie with the GET as with the handshake.

// probeRefusal returns the server's refusal of the handshake to wsURL, or
// nil when the server does not refuse it (it answered something else, or
// could not be reached: a network failure stays a network failure).
func probeRefusal(ctx context.Context, wsURL string) *HandshakeError {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil
	}
	r, err := fetch.Do(ctx, fetch.Request{URL: u.String(), Header: map[string]string{"Accept": "application/json"}})
	if err != nil {
		return nil
	}
	return refusal(r.Status, r.Body, r.Get("Retry-After"))
}
