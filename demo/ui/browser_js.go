//go:build js && wasm

package ui

import (
	"context"

	"github.com/tetherkit/tether/client"
)

// watchBrowser reconnects at once when the browser comes back online or the
// tab comes back to the foreground.
func watchBrowser(ctx context.Context, c *client.Client) { client.WatchBrowser(ctx, c) }
