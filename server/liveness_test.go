package server_test

import (
	"testing"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestAppPingDropsFrozenClient: a client that asked for application pings
// and stops answering them is dropped (4003) and leaves presence, even
// though it keeps answering the WebSocket's pings (gorilla answers them
// while the test client reads, as a browser does for a frozen page). A
// client that answers keeps its connection, and one that never asked gets
// no application pings.
func TestAppPingDropsFrozenClient(t *testing.T) {
	const every = 200 * time.Millisecond
	e := startServer(t, server.Config{AppPing: every, Heartbeat: 50 * time.Millisecond})

	watcher := e.dial("watcher")
	if got := watcher.welcome.AppPingMS; got != every.Milliseconds() {
		t.Fatalf("welcome app_ping_ms = %d, want %d", got, every.Milliseconds())
	}
	watcher.join("room", 0)

	frozen := e.dial("frozen")
	frozen.send(0, shared.Hello{Client: "test", AppPing: true})
	frozen.join("room", 0)
	waitFor[shared.PresenceJoin](watcher, func(m shared.PresenceJoin, _ shared.Envelope) bool { return m.Member.User == "frozen" })

	plain := e.dial("plain")
	plain.join("room", 0)

	start := time.Now()
	// The frozen client gets its ping and does not answer.
	waitFor[shared.Ping](frozen, nil)
	if ce := frozen.waitClose(); ce.Code != shared.CloseHeartbeat {
		t.Errorf("the silent client was closed with %d %q, want %d", ce.Code, ce.Text, shared.CloseHeartbeat)
	}
	left := time.Since(start)
	waitFor[shared.PresenceLeave](watcher, func(m shared.PresenceLeave, _ shared.Envelope) bool { return m.Member.User == "frozen" })
	t.Logf("a client that stopped answering application pings left %v after it got silent (bound 2*AppPing = %v)",
		time.Since(start).Round(time.Millisecond), 2*every)
	if left < every {
		t.Errorf("the silent client was closed after %v, before it was even pinged (AppPing %v)", left, every)
	}

	// The live client answers three pings in a row and stays. It connects
	// only now: while the test waited for the frozen client's close it
	// would have read nothing, and so answered nothing, for 2*AppPing.
	live := e.dial("live")
	live.send(0, shared.Hello{Client: "test", AppPing: true})
	for i := range 3 {
		p := waitFor[shared.Ping](live, nil)
		if p.env.ID != 0 {
			t.Errorf("ping %d carries id %d: a server ping is not a request", i, p.env.ID)
		}
		live.send(0, shared.Pong{})
	}
	live.ping()

	// Meanwhile (more than 2*AppPing) the client that never asked got no
	// application ping and is still connected.
	plain.ping()
	for {
		select {
		case r := <-plain.in:
			if _, ok := r.msg.(shared.Ping); ok {
				t.Fatal("a client that did not ask for application pings got one")
			}
			continue
		default:
		}
		break
	}
}

// TestAppPingOff: with negative AppPing the server offers no application
// pings and ignores the hello that asks for them.
func TestAppPingOff(t *testing.T) {
	e := startServer(t, server.Config{AppPing: -1})
	c := e.dial("u")
	if c.welcome.AppPingMS != 0 {
		t.Errorf("welcome app_ping_ms = %d with application pings off, want 0", c.welcome.AppPingMS)
	}
	c.send(0, shared.Hello{AppPing: true})
	id := c.request(shared.Pong{})
	expectReply[shared.Reply](c, id)
}
