//go:build js && wasm

package session

import "syscall/js"

// pageOrigin is the page's origin, "" when there is no page (a worker, a
// test under Node.js).
func pageOrigin() string {
	loc := js.Global().Get("location")
	if !loc.Truthy() {
		return ""
	}
	o := loc.Get("origin")
	if o.Type() != js.TypeString || o.String() == "null" {
		return ""
	}
	return o.String()
}
