package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestIDLessAnswers pins docs/protocol.md §3: join, leave, presence.list
// and ping sent without id are answered (without id); hello and application
// messages without id get nothing when they succeed.
func TestIDLessAnswers(t *testing.T) {
	e := startChat(t, server.Config{})
	c := e.dial("ann")
	c.send(0, shared.Ping{})
	if got := expect[shared.Pong](c); got.env.ID != 0 {
		t.Errorf("id-less ping answered with id %d", got.env.ID)
	}
	c.send(0, shared.Join{Room: "lobby"})
	if got := expect[shared.Joined](c); got.env.ID != 0 || got.msg.Room != "lobby" {
		t.Errorf("id-less join answered %+v %+v, want joined lobby without id", got.env, got.msg)
	}
	c.send(0, shared.PresenceList{Room: "lobby"})
	if got := expect[shared.PresenceList](c); got.env.ID != 0 || len(got.msg.Members) != 1 {
		t.Errorf("id-less presence.list answered %+v %+v", got.env, got.msg)
	}
	c.send(0, testmsg.ChatSend{Room: "lobby", Text: "hi"})
	if got := expect[testmsg.ChatMessage](c); got.msg.Text != "hi" {
		t.Errorf("after an id-less chat.send: %+v, want only the room's chat.message", got.msg)
	}
	c.send(0, shared.Leave{Room: "lobby"})
	if got := expect[shared.Left](c); got.env.ID != 0 || got.msg.Room != "lobby" {
		t.Errorf("id-less leave answered %+v %+v, want left lobby without id", got.env, got.msg)
	}
	c.send(0, shared.Hello{Client: "test"})
	id := c.request(shared.Ping{})
	if got := c.next(); got.env.Type != "pong" || got.env.ID != id {
		t.Errorf("after an id-less hello the server sent %s (id %d), want nothing before the pong %d", got.env.Type, got.env.ID, id)
	}
}

// TestJoinDefaultsAndSortedMembers pins §4: a join without history replays
// nothing, and joined.members is sorted by user.
func TestJoinDefaultsAndSortedMembers(t *testing.T) {
	e := startChat(t, server.Config{})
	for _, u := range []string{"zed", "amy", "max"} {
		e.dial(u).join("room", 0)
	}
	pub := e.dial("bob")
	pub.join("room", 0)
	id := pub.request(testmsg.ChatSend{Room: "room", Text: "before"})
	expectReply[shared.Reply](pub, id)

	late := e.dial("kim")
	id = late.request(shared.Join{Room: "room"}) // no history
	j := expectReply[shared.Joined](late, id)
	if j.Replayed != 0 {
		t.Errorf("join without history replayed %d messages, want 0", j.Replayed)
	}
	var users []string
	for _, m := range j.Members {
		users = append(users, m.User)
	}
	if got, want := strings.Join(users, " "), "amy bob kim max zed"; got != want {
		t.Errorf("joined.members = %s, want sorted %s", got, want)
	}
	late.ping() // nothing (no replay) came before the pong
}

// TestCloseReasons pins §8: 4000 carries the kick's reason, cut to 123
// bytes on a character boundary; 1009 for a frame over the limit on the
// wire carries no reason.
func TestCloseReasons(t *testing.T) {
	e := startServer(t, server.Config{ReadLimit: 1024})
	kicked := e.dial("mal")
	long := strings.Repeat("é", 100) // 200 bytes
	if n, err := e.srv.Kick(context.Background(), "mal", server.KickOptions{Reason: long}); err != nil || n != 1 {
		t.Fatalf("Kick closed %d connections (%v), want 1", n, err)
	}
	ce := kicked.waitClose()
	if ce.Code != shared.CloseKicked || len(ce.Text) > 123 || !strings.HasPrefix(long, ce.Text) || len(ce.Text) < 120 {
		t.Errorf("kick closed with %d %q (%d bytes), want 4000 and the reason cut to at most 123 bytes", ce.Code, ce.Text, len(ce.Text))
	}

	big := e.dial("big")
	big.sendRaw(websocket.TextMessage, []byte(`{"type":"ping","data":{"pad":"`+strings.Repeat("x", 2000)+`"}}`))
	if ce := big.waitClose(); ce.Code != shared.CloseTooBig || ce.Text != "" {
		t.Errorf("oversized message closed with %d %q, want 1009 without a reason", ce.Code, ce.Text)
	}
}
