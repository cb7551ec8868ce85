package client

import (
	"context"
	"fmt"
	"time"

	"github.com/tetherkit/tether/shared"
)

// heartbeat detects half-open connections, which browsers cannot see: when
// nothing has been received for interval it sends a ping, and when nothing at
// all arrives within another interval it ends the connection. Reconnect
// triggers an immediate ping. It returns when the connection ends.
func (c *Client) heartbeat(cn *conn, interval time.Duration) {
	t := time.NewTimer(interval)
	defer t.Stop()
	probing := false  // a ping is out
	var sentAt uint64 // frames received when it was sent
	ping := func() bool {
		sentAt = cn.recvs.Load()
		ctx, cancel := context.WithTimeout(cn.ctx, interval)
		defer cancel()
		if err := cn.write(ctx, shared.Envelope{ID: c.nextID.Add(1)}, shared.Ping{}); err != nil {
			// Not even a ping could be written in time: as dead as silence.
			cn.fail(fmt.Errorf("heartbeat: ping: %w", err))
			return false
		}
		probing = true
		t.Reset(interval)
		return true
	}
	for {
		select {
		case <-cn.done:
			return
		case <-c.wake:
			if !probing && !ping() {
				return
			}
		case <-t.C:
			switch {
			case probing && cn.recvs.Load() == sentAt:
				c.log.Info("tether client: no answer to ping; dropping the connection", "waited", interval)
				cn.fail(fmt.Errorf("heartbeat: nothing received for %s after a ping", interval))
				return
			case probing:
				probing = false
				t.Reset(max(interval-cn.idle(), 0))
			case cn.idle() >= interval:
				if !ping() {
					return
				}
			default:
				t.Reset(interval - cn.idle())
			}
		}
	}
}
