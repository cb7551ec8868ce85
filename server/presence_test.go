package server_test

import (
	"testing"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

func TestPresenceJoinAndLeaveSeenByOthers(t *testing.T) {
	e := startServer(t, server.Config{})
	alice, bob := e.dial("alice"), e.dial("bob")

	if got := alice.join("lobby", 0); members(got.Members) != "[alice/Alice]" {
		t.Errorf("alice's joined members = %s, want [alice/Alice]", members(got.Members))
	}
	if got := bob.join("lobby", 0); members(got.Members) != "[alice/Alice bob/Bob]" {
		t.Errorf("bob's joined members = %s, want alice and bob", members(got.Members))
	}
	pj := expect[shared.PresenceJoin](alice)
	if pj.msg.Member.User != "bob" || pj.msg.Room != "lobby" || pj.env.Room != "lobby" || pj.env.Seq != 0 {
		t.Errorf("alice got %+v in %+v, want presence.join of bob in lobby without seq", pj.msg, pj.env)
	}

	id := bob.request(shared.Leave{Room: "lobby"})
	if got := expectReply[shared.Left](bob, id); got.Room != "lobby" {
		t.Errorf("left = %+v, want room lobby", got)
	}
	if pl := expect[shared.PresenceLeave](alice); pl.msg.Member.User != "bob" {
		t.Errorf("alice got presence.leave of %q, want bob", pl.msg.Member.User)
	}

	// presence.list needs no join.
	id = bob.request(shared.PresenceList{Room: "lobby"})
	if got := expectReply[shared.PresenceList](bob, id); members(got.Members) != "[alice/Alice]" {
		t.Errorf("presence.list = %s, want [alice/Alice]", members(got.Members))
	}
	if got := members(tethertest.Presence(t, e.srv, "lobby")); got != "[alice/Alice]" {
		t.Errorf("Presence(lobby) = %s, want [alice/Alice]", got)
	}

	// Closing the connection leaves the room too.
	bob.join("lobby", 0)
	expect[shared.PresenceJoin](alice)
	bob.close()
	if pl := expect[shared.PresenceLeave](alice); pl.msg.Member.User != "bob" {
		t.Errorf("alice got presence.leave of %q after bob closed, want bob", pl.msg.Member.User)
	}
}

func TestPresenceUserWithTwoConnectionsCountsOnce(t *testing.T) {
	e := startServer(t, server.Config{})
	alice := e.dial("alice")
	alice.join("lobby", 0)
	bob1, bob2 := e.dial("bob"), e.dial("bob")
	bob1.join("lobby", 0)
	if got := bob2.join("lobby", 0); members(got.Members) != "[alice/Alice bob/Bob]" {
		t.Errorf("bob's second joined members = %s, want alice and bob once", members(got.Members))
	}

	// alice hears one presence.join; the next thing she gets is her list.
	expect[shared.PresenceJoin](alice)
	id := alice.request(shared.PresenceList{Room: "lobby"})
	if got := expect[shared.PresenceList](alice); got.env.ID != id || members(got.msg.Members) != "[alice/Alice bob/Bob]" {
		t.Errorf("after bob's second join alice got %+v (id %d), want only her presence.list", got.msg, got.env.ID)
	}

	// bob's first connection closing changes nothing for alice.
	bob1.close()
	e.waitDisconnect(bob1.welcome.Conn)
	id = alice.request(shared.PresenceList{Room: "lobby"})
	if got := expect[shared.PresenceList](alice); got.env.ID != id || members(got.msg.Members) != "[alice/Alice bob/Bob]" {
		t.Errorf("after bob's first connection closed alice got %+v (id %d), want only her presence.list with bob", got.msg, got.env.ID)
	}

	// His last one leaving does.
	bob2.close()
	if pl := expect[shared.PresenceLeave](alice); pl.msg.Member.User != "bob" {
		t.Errorf("alice got presence.leave of %q, want bob", pl.msg.Member.User)
	}
	if got := tethertest.Stats(t, e.srv).Users; got != 1 {
		t.Errorf("Stats().Users = %d after bob left, want 1", got)
	}
}
