//go:build !(js && wasm)

package client

import "context"

// askAppPing: native clients do not ask for application pings; the
// WebSocket's own pings tell whether they run.
const askAppPing = false

// watchPage does nothing outside a browser.
func (c *Client) watchPage(context.Context) func() { return func() {} }
