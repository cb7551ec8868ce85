package server

import (
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/shared"
)

// A browser answers the WebSocket's ping frames by itself, also for a page
// it has frozen (a background tab, a page in the back/forward cache): the
// heartbeat cannot tell such a page from a live one. A client that asks for
// application pings (hello's app_ping) proves that its code runs: after
// Config.AppPing without a message from it the server sends it an
// application ping, which the client answers with pong, and when another
// AppPing passes without a message the connection is closed with 4003
// (docs/protocol.md §6). Message events, unlike timers, are not throttled in
// background tabs, so a live hidden page answers in time.
//
// Like the heartbeat, the application heartbeat is kept by the node's timers
// (timers.go): a connection holds no timer of its own.

// appPinger is the application heartbeat of one connection.
type appPinger struct {
	on     atomic.Bool  // the client asked for application pings, and the server offers them
	last   atomic.Int64 // Unix ns: the client's last message, or the ping sent since
	pinged atomic.Bool  // a ping is out: another AppPing of silence closes the connection
}

// startAppPing starts the application heartbeat of c, if the server offers
// it (Config.AppPing > 0).
func (c *Conn) startAppPing() {
	if c.srv.cfg.AppPing <= 0 || c.app.on.Load() {
		return
	}
	c.app.last.Store(time.Now().UnixNano())
	c.app.on.Store(true)
}

// appAlive records that a message arrived from the client: its application
// heartbeat starts over.
func (c *Conn) appAlive() {
	if !c.app.on.Load() {
		return
	}
	c.app.pinged.Store(false)
	c.app.last.Store(time.Now().UnixNano())
}

// appDue reports what the application heartbeat has due at now (Unix ns), for
// the node's timers: tickAppPing when the client has been silent for
// AppPing (the ping counts as sent from now), tickAppSilent when it has not
// answered the ping within another AppPing.
func (c *Conn) appDue(now int64) tickAction {
	if !c.app.on.Load() || now-c.app.last.Load() < c.srv.cfg.AppPing.Nanoseconds() {
		return tickNothing
	}
	if c.app.pinged.Load() {
		return tickAppSilent
	}
	c.app.pinged.Store(true)
	c.app.last.Store(now)
	return tickAppPing
}

// appPing sends the application ping that appDue said was due.
func (c *Conn) appPing() {
	_ = c.Send(shared.Ping{})
}

// appSilent closes a connection whose client did not answer its
// application ping.
func (c *Conn) appSilent() {
	if c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "no answer to ping", send: true}) {
		c.srv.obs.HeartbeatTimeout()
		c.srv.log.Debug("no answer to the application ping: closed", "conn", c.id, "user", c.user,
			"silent", 2*c.srv.cfg.AppPing)
	}
}
