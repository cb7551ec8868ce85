package server

import (
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// A browser answers the WebSocket's ping frames by itself, also for a page
// it has frozen (a background tab, a page in the back/forward cache): the
// heartbeat of heartbeat.go cannot tell such a page from a live one. A
// client that asks for application pings (hello's app_ping) proves that its
// code runs: after Config.AppPing without a message from it the server sends
// it an application ping, which the client answers with pong, and when
// another AppPing passes without a message the connection is closed with
// 4003 (docs/protocol.md §6). Message events, unlike timers, are not
// throttled in background tabs, so a live hidden page answers in time.

// appPinger is the application heartbeat of one connection. Its timer runs
// from the client's hello to the end of the connection.
type appPinger struct {
	mu     sync.Mutex
	timer  *time.Timer // nil until the client asked for application pings
	pinged bool        // a ping is out: the next firing closes the connection
}

// startAppPing starts the application heartbeat of c, once, if the server
// offers it (Config.AppPing > 0).
func (c *Conn) startAppPing() {
	every := c.srv.cfg.AppPing
	if every <= 0 {
		return
	}
	a := &c.app
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil || c.isClosing() {
		return
	}
	a.timer = time.AfterFunc(every, c.weakly((*Conn).appSilent))
}

// appAlive records that a message arrived from the client: its application
// heartbeat starts over.
func (c *Conn) appAlive() {
	a := &c.app
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer == nil {
		return
	}
	a.pinged = false
	a.timer.Reset(c.srv.cfg.AppPing)
}

// appSilent runs when the client has sent nothing for AppPing: the first
// time it sends a ping, the second time it closes the connection.
func (c *Conn) appSilent() {
	a := &c.app
	a.mu.Lock()
	if c.isClosing() || a.timer == nil {
		a.mu.Unlock()
		return
	}
	if a.pinged {
		a.mu.Unlock()
		if c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "no answer to ping", send: true}) {
			c.srv.obs.HeartbeatTimeout()
			c.srv.log.Debug("no answer to the application ping: closed", "conn", c.id, "user", c.user,
				"silent", 2*c.srv.cfg.AppPing)
		}
		return
	}
	a.pinged = true
	a.timer.Reset(c.srv.cfg.AppPing)
	a.mu.Unlock()
	_ = c.Send(shared.Ping{})
}

// stopAppPing stops the application heartbeat when the connection ends.
func (c *Conn) stopAppPing() {
	a := &c.app
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
}
