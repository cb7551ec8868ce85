package server

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// The connections' timers are the node's: an idle connection keeps no timer
// of its own. One goroutine, tickLoop, runs while the node has connections;
// every tick it has a ping sent to each connection that has had none for a
// Heartbeat, closes the connections whose token has expired (1008), closes
// the parked ones (see Conn.park) that have received nothing for the
// HeartbeatTimeout (4003; a reader blocked in a read has its read deadline
// instead), and keeps the application heartbeat of the clients that asked
// for it (liveness.go): an application ping after AppPing of silence, 4003
// after another.

// maxTick bounds the tick of the node's timers: a token's expiry closes its
// connection at most this late.
const maxTick = 250 * time.Millisecond

// tickEvery is the tick of the node's timers: an eighth of the heartbeat,
// or of the application heartbeat when that is shorter (a ping goes out at
// most that late), at least a millisecond, at most maxTick.
func tickEvery(cfg Config) time.Duration {
	every := cfg.Heartbeat
	if cfg.AppPing > 0 {
		every = min(every, cfg.AppPing)
	}
	return min(max(every/8, time.Millisecond), maxTick)
}

// tickLoop is the node's timer goroutine, started by hub.add when the node
// gets its first connection; it returns when the node has none left.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery(s.cfg))
	defer t.Stop()
	type dueAction struct {
		c      *Conn
		action tickAction
	}
	var due []dueAction // connections to act on outside the hub's lock, reused
	for {
		select {
		case <-t.C:
		case <-s.hub.emptied:
		}
		now := time.Now().UnixNano()
		due = due[:0]
		more := s.hub.tick(func(c *Conn) {
			if a := c.tickDue(now); a != tickNothing {
				due = append(due, dueAction{c, a})
			}
		})
		// Outside the hub's lock: a close runs the connection's context's
		// callbacks, and an application ping is encoded and queued.
		for _, d := range due {
			switch d.action {
			case tickExpired:
				d.c.expire()
			case tickTimedOut:
				if d.c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "heartbeat timeout", send: true}) {
					s.obs.HeartbeatTimeout()
				}
			case tickAppPing:
				d.c.appPing()
			case tickAppSilent:
				d.c.appSilent()
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
	tickNothing   tickAction = iota
	tickExpired              // its token has expired
	tickTimedOut             // parked, it has received nothing for HeartbeatTimeout
	tickAppPing              // an application ping is due (liveness.go)
	tickAppSilent            // it did not answer its application ping
)

// tickDue does what the node's timers have due for c at now (Unix ns): a
// ping when none was asked for since a Heartbeat; and it reports a close or
// an application ping that is due.
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
	return c.appDue(now)
}
