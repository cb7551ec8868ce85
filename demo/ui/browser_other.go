//go:build !(js && wasm)

package ui

import (
	"context"

	"github.com/tetherkit/tether/client"
)

// watchBrowser does nothing outside the browser (server-side rendering and
// tests never log in).
func watchBrowser(context.Context, *client.Client) {}

// browserStorage is memory outside the browser.
func browserStorage() keyValue { return &memoryKV{} }

// watchOnline does nothing outside the browser: it is always online.
func watchOnline(func(online bool)) (stop func()) { return func() {} }
