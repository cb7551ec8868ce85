//go:build !js

package client

import (
	"context"
	"errors"
)

// This file declares the browser-only API for every other platform, so that
// `go doc` finds it on the machine a developer reads it on and code shared
// by a page and its server-side rendering (go-app renders on the server
// too) compiles on both. The real implementations are in transport_js.go,
// handshake_js.go and browser_js.go.

// ErrNotBrowser is returned by BrowserTransport.Dial outside a browser.
var ErrNotBrowser = errors.New("client: BrowserTransport works only in a browser (GOOS=js GOARCH=wasm)")

// BrowserTransport opens WebSockets with the browser's WebSocket object
// through syscall/js; it is the default Transport under GOOS=js
// GOARCH=wasm. Browsers answer the server's ping frames themselves and hide
// them from scripts, which is why the client core also runs an
// application-level ping. When a handshake fails, Dial asks the server why
// with a plain GET of the same URL (docs/protocol.md §1): a refusal (401,
// 403, banned, 429, 503) is returned as a *HandshakeError, exactly as
// NativeTransport returns it, so Run ends at once instead of retrying.
//
// Outside a browser this declaration exists for the documentation and for
// code that compiles on both sides: its Dial returns ErrNotBrowser.
type BrowserTransport struct{}

// Dial opens a WebSocket to url in a browser; outside one it returns
// ErrNotBrowser.
func (BrowserTransport) Dial(ctx context.Context, url string) (Socket, error) {
	return nil, ErrNotBrowser
}

// WatchBrowser makes c react to the browser's online, offline and
// visibility events at once instead of waiting for its backoff timer or
// heartbeat (see its js/wasm implementation in browser_js.go). Outside a
// browser there are no such events: it returns at once and does nothing.
func WatchBrowser(ctx context.Context, c *Client) {}
