package server_test

import (
	"context"
	"testing"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestPublishEphemeral: an ephemeral message reaches the room's members now,
// without a seq, and is never replayed.
func TestPublishEphemeral(t *testing.T) {
	e := startServer(t, server.Config{})
	alice, bob, carol := e.dial("alice"), e.dial("bob"), e.dial("carol")
	alice.join("lobby", 0)
	bob.join("lobby", 0)
	expect[shared.PresenceJoin](alice)

	if err := e.srv.PublishEphemeral(context.Background(), "lobby", testmsg.Notification{Title: "bob is typing"}); err != nil {
		t.Fatalf("PublishEphemeral: %v", err)
	}
	for _, tc := range []*testClient{alice, bob} {
		got := expect[testmsg.Notification](tc)
		if got.msg.Title != "bob is typing" || got.env.Room != "lobby" || got.env.Seq != 0 {
			t.Errorf("%s got %+v in %+v, want the ephemeral notification in lobby without seq", tc.name, got.msg, got.env)
		}
	}
	// carol is not a member: the next thing she gets is the answer to her ping.
	id := carol.request(shared.Ping{})
	if r := carol.next(); r.env.ID != id {
		t.Errorf("carol, not in the room, got %s %+v before her pong", r.env.Type, r.msg)
	}

	if _, _, err := e.srv.Publish(context.Background(), "lobby", testmsg.Notification{Title: "kept"}); err != nil {
		t.Fatal(err)
	}
	if j := carol.join("lobby", 10); j.Replayed != 1 || j.Seq != 1 {
		t.Errorf("carol's joined = %+v, want 1 replayed at seq 1: the ephemeral message is not in history", j)
	}
	if got := expect[testmsg.Notification](carol); got.msg.Title != "kept" || got.env.Seq != 1 {
		t.Errorf("carol's replay = %+v seq %d, want the kept message at seq 1", got.msg, got.env.Seq)
	}
	if err := e.srv.PublishEphemeral(context.Background(), "no such room!", testmsg.Notification{}); err == nil {
		t.Error("PublishEphemeral to an invalid room name: no error")
	}
}
