package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// sendKeyed sends m as request id with idempotency key key.
func (tc *testClient) sendKeyed(id uint64, key string, m shared.Message) {
	tc.t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id, Key: key}, m)
	if err != nil {
		tc.t.Fatalf("%s: encode %s: %v", tc.name, m.MessageType(), err)
	}
	tc.sendRaw(websocket.TextMessage, b)
}

// TestIdempotentChatSend: a chat.send sent again with the same key, on the
// same connection or on another connection of the same user (a reconnect),
// is answered like the first and appears in the room once; another user's
// identical key is another request.
func TestIdempotentChatSend(t *testing.T) {
	e := startChat(t, server.Config{})
	watcher := e.dial("watcher")
	watcher.join("keys", 0)
	first := e.dial("alice")
	first.join("keys", 0)

	first.sendKeyed(1, "k-1", testmsg.ChatSend{Room: "keys", Text: "once"})
	if r := expectReply[shared.Reply](first, 1); !r.OK {
		t.Fatalf("first send answered %+v", r)
	}
	first.sendKeyed(2, "k-1", testmsg.ChatSend{Room: "keys", Text: "once"})
	if r := expectReply[shared.Reply](first, 2); !r.OK {
		t.Fatalf("repeat on the same connection answered %+v, want the first answer (ok)", r)
	}
	second := e.dial("alice") // the same user after a reconnect
	second.join("keys", 0)
	second.sendKeyed(1, "k-1", testmsg.ChatSend{Room: "keys", Text: "once"})
	if r := expectReply[shared.Reply](second, 1); !r.OK {
		t.Fatalf("repeat on another connection answered %+v, want ok", r)
	}
	// A repeat of a request that failed gets the same error, not a new run.
	second.sendKeyed(2, "k-2", testmsg.ChatSend{Room: "elsewhere", Text: "nope"})
	if got := expectReply[shared.Error](second, 2); got.Code != shared.CodeNotJoined {
		t.Fatalf("send to a room not joined = %+v, want not_joined", got)
	}
	second.join("elsewhere", 0)
	second.sendKeyed(3, "k-2", testmsg.ChatSend{Room: "elsewhere", Text: "nope"})
	if got := expectReply[shared.Error](second, 3); got.Code != shared.CodeNotJoined {
		t.Fatalf("repeat of a failed send = %+v, want the first answer (not_joined)", got)
	}
	bob := e.dial("bob")
	bob.join("keys", 0)
	bob.sendKeyed(1, "k-1", testmsg.ChatSend{Room: "keys", Text: "bob's"})
	expectReply[shared.Reply](bob, 1)
	first.sendKeyed(3, "k-3", testmsg.ChatSend{Room: "keys", Text: "last"})
	expectReply[shared.Reply](first, 3)

	var got []string
	for len(got) < 3 {
		m := waitFor[testmsg.ChatMessage](watcher, nil)
		got = append(got, m.msg.User+":"+m.msg.Text)
	}
	if want := "alice:once bob:bob's alice:last"; strings.Join(got, " ") != want {
		t.Fatalf("the room got %q, want %q (each keyed send once)", strings.Join(got, " "), want)
	}
}

// TestIdempotencyKeyChecked: a key that is too long or not printable ASCII
// is malformed (field key) and the message is not run.
func TestIdempotencyKeyChecked(t *testing.T) {
	e := startChat(t, server.Config{})
	watcher := e.dial("watcher")
	watcher.join("keys", 0)
	c := e.dial("carol")
	c.join("keys", 0)
	for i, key := range []string{strings.Repeat("k", server.MaxKeyLen+1), "has space", "tab\there", "é"} {
		id := uint64(10 + i)
		c.sendKeyed(id, key, testmsg.ChatSend{Room: "keys", Text: "x"})
		got := expectReply[shared.Error](c, id)
		if got.Code != shared.CodeMalformed || got.Field != "key" {
			t.Errorf("key %q: %+v, want malformed on field key", key, got)
		}
	}
	c.sendKeyed(20, strings.Repeat("k", server.MaxKeyLen), testmsg.ChatSend{Room: "keys", Text: "ok"})
	expectReply[shared.Reply](c, 20)
	if m := waitFor[testmsg.ChatMessage](watcher, nil); m.msg.Text != "ok" {
		t.Fatalf("room got %q, want only the message with a valid key", m.msg.Text)
	}
}

// TestIdempotencyWindowIsBounded: with a window of 3 keys per user, the
// oldest key is forgotten once 3 newer ones ran, so it runs again.
func TestIdempotencyWindowIsBounded(t *testing.T) {
	e := startChat(t, server.Config{Broker: tethertest.Memory(t, memory.Config{IdempotencyKeys: 3})})
	watcher := e.dial("watcher")
	watcher.join("keys", 0)
	c := e.dial("dan")
	c.join("keys", 0)
	send := func(id uint64, key string) {
		c.sendKeyed(id, key, testmsg.ChatSend{Room: "keys", Text: key})
		expectReply[shared.Reply](c, id)
	}
	for i := 1; i <= 4; i++ {
		send(uint64(i), fmt.Sprintf("k%d", i))
	}
	send(5, "k4") // remembered: not run
	send(6, "k1") // forgotten: runs again
	var got []string
	for len(got) < 5 {
		got = append(got, waitFor[testmsg.ChatMessage](watcher, nil).msg.Text)
	}
	if want := "k1 k2 k3 k4 k1"; strings.Join(got, " ") != want {
		t.Fatalf("room got %q, want %q", strings.Join(got, " "), want)
	}
}
