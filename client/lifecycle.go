package client

import (
	"context"
	"errors"

	"github.com/tetherkit/tether/shared"
)

// The Page Lifecycle (docs/protocol.md §6): a browser keeps a page it leaves
// in its back/forward cache, and freezes background tabs, with their
// WebSockets open. Such a page still answers WebSocket pings, so to the
// server it is a member of its rooms until the browser throws it away,
// minutes later. Under js/wasm the client follows the page's lifecycle
// events (lifecycle_js.go): when the page is hidden for good or frozen
// (pagehide, freeze) it closes its connection at once, so the server runs
// the normal leave path; when the page is shown again (pageshow from the
// cache, resume) it reconnects and resumes its rooms as after any lost
// connection, through Reconnecting.

// clientName is what the client calls itself in hello.
const clientName = "tether-go/0.1"

// pageHiddenReason is the close reason when the page goes away.
const pageHiddenReason = "page hidden"

// errPageHidden is why the connection ended when the page was hidden.
var errPageHidden = errors.New("the page was hidden (pagehide or freeze): connection closed until it is shown again")

// Hide closes the connection at once, as when the browser hides the page
// for good or freezes it (the pagehide and freeze events), and keeps the
// client from connecting again until Show. Sends made meanwhile wait in the
// outbox. Under js/wasm Run calls it on those events; other programs may
// call it when they suspend. It does not block.
func (c *Client) Hide() {
	c.mu.Lock()
	c.hidden = true
	end, cn := c.endConn, c.conn
	c.mu.Unlock()
	c.releaseOutbox()
	if end != nil {
		end(errPageHidden)
	}
	if cn != nil {
		// Now, not when Run's goroutine gets to it: the browser may freeze
		// the page as soon as the event handler returns.
		_ = cn.sock.Close(shared.CloseGoingAway, pageHiddenReason)
	}
}

// Show lets a hidden client connect again, at once (pageshow from the
// back/forward cache, resume).
func (c *Client) Show() {
	c.mu.Lock()
	was := c.hidden
	c.hidden = false
	c.mu.Unlock()
	if was {
		c.Reconnect()
	}
}

// startSession makes the context of one connection attempt, which Hide
// cancels; done must be called when the attempt is over.
func (c *Client) startSession(ctx context.Context) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.endConn = cancel
	hidden := c.hidden
	c.mu.Unlock()
	if hidden {
		cancel(errPageHidden)
	}
	return sctx, func() {
		c.mu.Lock()
		c.endConn = nil
		c.mu.Unlock()
		cancel(nil)
	}
}

// waitShown waits while the client is hidden. It reports false when ctx is
// done first.
func (c *Client) waitShown(ctx context.Context) bool {
	for {
		c.mu.Lock()
		hidden := c.hidden
		c.mu.Unlock()
		if !hidden {
			return true
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return false
		}
	}
}
