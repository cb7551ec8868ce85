package server

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// The connections' timers are the node's: an idle connection keeps no timer
// of its own. One goroutine, tickLoop, runs while the node has connections;
// every tick it has a ping sent to each connection that has had none for a
// Heartbeat, closes the connections whose token has expired (1008), and
// closes the parked ones (see Conn.park) that have received nothing for the
// HeartbeatTimeout (4003; a reader blocked in a read has its read deadline
// instead).

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
	type closing struct {
		c       *Conn
		expired bool // else: heartbeat timeout
	}
	var due []closing // connections to close, reused
	for {
		select {
		case <-t.C:
		case <-s.hub.emptied:
		}
		now := time.Now().UnixNano()
		due = due[:0]
		more := s.hub.tick(func(c *Conn) {
			switch c.tickDue(now) {
			case tickExpired:
				due = append(due, closing{c, true})
			case tickTimedOut:
				due = append(due, closing{c, false})
			}
		})
		// Closed outside the hub's lock: a close runs the connection's
		// context's callbacks.
		for _, d := range due {
			if d.expired {
				d.c.expire()
			} else if d.c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "heartbeat timeout", send: true}) {
				s.obs.HeartbeatTimeout()
			}
		}
		clear(due)
		if !more {
			return
		}
	}
}

// tickAction is what the node's timers have due for a connection.
type tickAction int

const (
	tickNothing  tickAction = iota
	tickExpired             // its token has expired
	tickTimedOut            // parked, it has received nothing for HeartbeatTimeout
)

// tickDue does what the node's timers have due for c at now (Unix ns): a
// ping when none was asked for since a Heartbeat; and it reports a close
// that is due.
func (c *Conn) tickDue(now int64) tickAction {
	cfg := &c.srv.cfg
	if now-c.pingedAt.Load() >= cfg.Heartbeat.Nanoseconds() {
		c.pingedAt.Store(now)
		c.q.sendPing()
	}
	if c.isClosing() {
		return tickNothing
	}
	if exp := c.expiresAt.Load(); exp != 0 && now >= exp {
		return tickExpired
	}
	if c.polled.Load() && now-c.lastRead.Load() > cfg.HeartbeatTimeout.Nanoseconds() && c.isParked() {
		return tickTimedOut
	}
	return tickNothing
}
