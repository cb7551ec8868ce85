//go:build js && wasm

package client

import (
	"context"
	"syscall/js"
)

// askAppPing: a browser page asks for application pings, since a frozen or
// cached page still answers the WebSocket's own pings (docs/protocol.md §6).
const askAppPing = true

// watchPage makes c follow the Page Lifecycle while Run runs: pagehide
// (whether the page goes to the back/forward cache or is unloaded) and
// freeze hide the client, closing its connection at once; pageshow from
// the cache and resume show it again. It returns the function that removes
// the listeners.
func (c *Client) watchPage(context.Context) func() {
	window := js.Global()
	document := window.Get("document")
	if !document.Truthy() || !window.Get("addEventListener").Truthy() {
		return func() {} // a worker, or Node.js: no page
	}
	hide := js.FuncOf(func(js.Value, []js.Value) any {
		c.Hide()
		return nil
	})
	show := js.FuncOf(func(_ js.Value, args []js.Value) any {
		c.Show()
		return nil
	})
	// pageshow also fires on the first load (persisted false), when the
	// client is not hidden: Show does nothing then.
	window.Call("addEventListener", "pagehide", hide)
	window.Call("addEventListener", "pageshow", show)
	document.Call("addEventListener", "freeze", hide)
	document.Call("addEventListener", "resume", show)
	return func() {
		window.Call("removeEventListener", "pagehide", hide)
		window.Call("removeEventListener", "pageshow", show)
		document.Call("removeEventListener", "freeze", hide)
		document.Call("removeEventListener", "resume", show)
		hide.Release()
		show.Release()
	}
}
