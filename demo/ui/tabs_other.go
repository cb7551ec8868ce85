//go:build !(js && wasm)

package ui

import "net/url"

// tabLink does nothing outside the browser: there are no other tabs.
type tabLink struct{}

func openTabs(func(tabEvent, *url.URL)) *tabLink { return nil }

func (*tabLink) tell(tabEvent) {}
