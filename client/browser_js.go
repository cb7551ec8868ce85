//go:build js && wasm

package client

import (
	"context"
	"syscall/js"
	"time"
)

// hiddenLongEnough is how long a page must have been hidden for a return to
// visibility to trigger a connection check: browsers throttle timers in
// background tabs, so after a while the heartbeat may not have run and the
// connection may be dead without the client knowing.
const hiddenLongEnough = 5 * time.Second

// WatchBrowser makes c react to the browser at once instead of waiting for
// its backoff timer or heartbeat: when the window fires "online", or the page
// becomes visible (while online) while c is waiting to reconnect or after
// being hidden for more than 5 s, it calls c.Reconnect, which reconnects now
// when disconnected or checks an open connection with a ping. (A phone's
// lock screen hides the page for as long as the backoff grew meanwhile: the
// user who looks again should not wait it out.) When the window fires "offline" while c is open it
// also checks the connection, so a dead one is noticed within one ping
// interval. It returns immediately; the listeners are removed when ctx is
// done.
func WatchBrowser(ctx context.Context, c *Client) {
	window := js.Global()
	document := window.Get("document")
	if !document.Truthy() {
		return
	}

	var hiddenAt time.Time // used on the JS event loop only
	if document.Get("visibilityState").String() == "hidden" {
		hiddenAt = time.Now()
	}
	visibility := js.FuncOf(func(js.Value, []js.Value) any {
		if document.Get("visibilityState").String() == "hidden" {
			hiddenAt = time.Now()
			return nil
		}
		waiting := c.State().State == Reconnecting
		if !hiddenAt.IsZero() && (waiting || time.Since(hiddenAt) > hiddenLongEnough) && isOnline(window) {
			c.Reconnect()
		}
		hiddenAt = time.Time{}
		return nil
	})
	online := js.FuncOf(func(js.Value, []js.Value) any {
		c.Reconnect()
		return nil
	})
	offline := js.FuncOf(func(js.Value, []js.Value) any {
		if c.State().State == Open {
			c.Reconnect()
		}
		return nil
	})
	document.Call("addEventListener", "visibilitychange", visibility)
	window.Call("addEventListener", "online", online)
	window.Call("addEventListener", "offline", offline)

	context.AfterFunc(ctx, func() {
		document.Call("removeEventListener", "visibilitychange", visibility)
		window.Call("removeEventListener", "online", online)
		window.Call("removeEventListener", "offline", offline)
		visibility.Release()
		online.Release()
		offline.Release()
	})
}

// isOnline reports navigator.onLine (true when the browser does not say).
func isOnline(window js.Value) bool {
	nav := window.Get("navigator")
	if !nav.Truthy() {
		return true
	}
	v := nav.Get("onLine")
	return v.Type() != js.TypeBoolean || v.Bool()
}
