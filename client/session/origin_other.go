//go:build !js

package session

// pageOrigin is "": there is no page outside a browser.
func pageOrigin() string { return "" }
