package server

import (
	"time"
)

// The connections' timers are the node's: an idle connection keeps no timer
// of its own. One goroutine, tickLoop, runs while the node has connections;
// every tick it has a ping sent to each connection that has had none for a
// Heartbeat, and closes the connections whose token has expired (1008).

// maxTick bounds the tick of the node's timers: a token's expiry closes its
// connection at most this late.
const maxTick = 250 * time.Millisecond

// tickEvery is the tick of the node's timers: an eighth of the heartbeat
// (a ping goes out at most that late), at least a millisecond, at most
// maxTick.
func tickEvery(cfg Config) time.Duration {
	return min(max(cfg.Heartbeat/8, time.Millisecond), maxTick)
}

// tickLoop is the node's timer goroutine, started by hub.add when the node
// gets its first connection; it returns when the node has none left.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery(s.cfg))
	defer t.Stop()
	var due []*Conn // connections to close, reused
	for {
		select {
		case <-t.C:
		case <-s.hub.emptied:
		}
		now := time.Now().UnixNano()
		hb := s.cfg.Heartbeat.Nanoseconds()
		due = due[:0]
		more := s.hub.tick(func(c *Conn) {
			if c.tickDue(now, hb) {
				due = append(due, c)
			}
		})
		// Closed outside the hub's lock: a close runs the connection's
		// context's callbacks.
		for _, c := range due {
			c.expire()
		}
		clear(due)
		if !more {
			return
		}
	}
}

// tickDue does what the node's timers have due for c at now (Unix ns): a
// ping when none was asked for since hb ns. It reports whether c's token
// has expired.
func (c *Conn) tickDue(now, hb int64) (expired bool) {
	if now-c.pingedAt.Load() >= hb {
		c.pingedAt.Store(now)
		c.q.sendPing()
	}
	exp := c.expiresAt.Load()
	return exp != 0 && now >= exp && !c.isClosing()
}
