//go:build js && wasm

package ui

import (
	"encoding/json"
	"net/url"
	"syscall/js"
)

// tabsChannel is the BroadcastChannel name the app's tabs talk on.
const tabsChannel = "tether.tabs"

// tabLink is this tab's end of the channel to the app's other tabs of the
// same origin. A BroadcastChannel never delivers a tab's own messages to
// itself.
type tabLink struct {
	ch     js.Value
	listen js.Func
}

// openTabs opens the channel and calls fn with what other tabs tell; it
// returns nil when the browser has no BroadcastChannel.
func openTabs(fn func(tabEvent, *url.URL)) *tabLink {
	ctor := js.Global().Get("BroadcastChannel")
	if !ctor.Truthy() {
		return nil
	}
	l := &tabLink{ch: ctor.New(tabsChannel)}
	l.listen = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 {
			return nil
		}
		data := args[0].Get("data")
		if data.Type() != js.TypeString {
			return nil
		}
		var e tabEvent
		if json.Unmarshal([]byte(data.String()), &e) != nil {
			return nil
		}
		page, err := url.Parse(js.Global().Get("location").Get("href").String())
		if err != nil {
			return nil
		}
		fn(e, page)
		return nil
	})
	l.ch.Call("addEventListener", "message", l.listen)
	return l
}

// tell sends e to the other tabs.
func (l *tabLink) tell(e tabEvent) {
	if l == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.ch.Call("postMessage", string(b))
}
