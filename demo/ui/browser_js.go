//go:build js && wasm

package ui

import (
	"context"
	"syscall/js"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/jsexc"
)

// watchBrowser reconnects at once when the browser comes back online or the
// tab comes back to the foreground.
func watchBrowser(ctx context.Context, c *client.Client) { client.WatchBrowser(ctx, c) }

// browserStorage is the page's localStorage, or memory when the browser
// refuses it (storage disabled, an opaque origin).
func browserStorage() keyValue {
	var ls js.Value
	if jsexc.Catch(func() { ls = js.Global().Get("localStorage") }) != nil || !ls.Truthy() {
		return &memoryKV{}
	}
	return localStorage{ls}
}

// localStorage is a keyValue on the browser's localStorage. A browser that
// throws (a full quota, storage blocked since) loses the write: what it
// keeps is a speed-up, never the only copy of anything.
type localStorage struct{ v js.Value }

func (l localStorage) Get(key string) (string, bool) {
	var item js.Value
	if jsexc.Catch(func() { item = l.v.Call("getItem", key) }) != nil || item.Type() != js.TypeString {
		return "", false
	}
	return item.String(), true
}

func (l localStorage) Set(key, value string) {
	_ = jsexc.Catch(func() { l.v.Call("setItem", key, value) })
}

func (l localStorage) Del(key string) { _ = jsexc.Catch(func() { l.v.Call("removeItem", key) }) }

// watchOnline calls fn with navigator.onLine whenever the browser fires
// online or offline, until the returned stop is called. fn runs on a
// goroutine of its own: a JavaScript event handler must not block.
func watchOnline(fn func(online bool)) (stop func()) {
	window := js.Global()
	if !window.Get("addEventListener").Truthy() {
		return func() {}
	}
	changed := js.FuncOf(func(js.Value, []js.Value) any {
		go fn(navigatorOnline())
		return nil
	})
	window.Call("addEventListener", "online", changed)
	window.Call("addEventListener", "offline", changed)
	return func() {
		window.Call("removeEventListener", "online", changed)
		window.Call("removeEventListener", "offline", changed)
		changed.Release()
	}
}
