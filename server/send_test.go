package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

func TestServerSends(t *testing.T) {
	e := startServer(t, server.Config{})
	alice, bob1, bob2 := e.dial("alice"), e.dial("bob"), e.dial("bob")
	alice.join("news", 0)
	bob1.join("news", 0)
	expect[shared.PresenceJoin](alice)
	all := []*testClient{alice, bob1, bob2}

	tests := []struct {
		name  string
		send  func() int
		title string
		want  []*testClient
	}{
		{"Send to a connection", func() int {
			if err := e.srv.Send(context.Background(), bob2.welcome.Conn, testmsg.Notification{Title: "conn"}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			return 1
		}, "conn", []*testClient{bob2}},
		{"SendToUser", func() int {
			n, err := e.srv.SendToUser(context.Background(), "bob", testmsg.Notification{Title: "user"})
			if err != nil {
				t.Fatalf("SendToUser: %v", err)
			}
			return n
		}, "user", []*testClient{bob1, bob2}},
		{"Publish to a room", func() int {
			seq, reached, err := e.srv.Publish(context.Background(), "news", testmsg.Notification{Title: "room"})
			if err != nil || seq != 1 {
				t.Fatalf("Publish = seq %d, %v; want seq 1", seq, err)
			}
			return reached
		}, "room", []*testClient{alice, bob1}},
		{"Broadcast", func() int {
			n, err := e.srv.Broadcast(context.Background(), testmsg.Notification{Title: "all"})
			if err != nil {
				t.Fatalf("Broadcast: %v", err)
			}
			return n
		}, "all", all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.send(); got != len(tt.want) {
				t.Errorf("reached %d connections, want %d", got, len(tt.want))
			}
			for _, c := range tt.want {
				if got := expect[testmsg.Notification](c); got.msg.Title != tt.title {
					t.Errorf("%s got %q, want %q", c.name, got.msg.Title, tt.title)
				}
			}
			// Those not addressed got nothing: their next message is a pong.
			for _, c := range all {
				c.ping()
			}
		})
	}

	if err := e.srv.Send(context.Background(), "nope", testmsg.Notification{Title: "x"}); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Send to an unknown connection = %v, want ErrNotFound", err)
	}
	if got, err := e.srv.SendToUser(context.Background(), "nobody", testmsg.Notification{Title: "x"}); err != nil || got != 0 {
		t.Errorf("SendToUser(nobody) = %d, %v; want 0", got, err)
	}
	if _, _, err := e.srv.Publish(context.Background(), "bad room", testmsg.Notification{Title: "x"}); err == nil {
		t.Error("Publish to an invalid room name succeeded")
	}

	infos := tethertest.Connections(t, e.srv)
	if len(infos) != 3 || infos[0].User != "alice" || len(infos[0].Rooms) != 1 || infos[0].Rooms[0] != "news" {
		t.Errorf("Connections() = %+v, want alice (in news) and bob twice", infos)
	}
	st := tethertest.Stats(t, e.srv)
	if st.Connections != 3 || st.Users != 2 || st.Rooms != 1 || st.MessagesIn == 0 || st.MessagesOut == 0 {
		t.Errorf("Stats() = %+v, want 3 connections, 2 users, 1 room and traffic", st)
	}
}

func TestKickClosesEveryConnectionOfTheUser(t *testing.T) {
	e := startServer(t, server.Config{})
	alice, bob1, bob2 := e.dial("alice"), e.dial("bob"), e.dial("bob")

	if got, err := e.srv.Kick(context.Background(), "bob", server.KickOptions{Reason: "spamming"}); err != nil || got != 2 {
		t.Errorf("Kick = %d, %v; want 2", got, err)
	}
	for _, c := range []*testClient{bob1, bob2} {
		if got := expect[shared.Kicked](c); got.msg.Reason != "spamming" {
			t.Errorf("kicked reason %q, want spamming", got.msg.Reason)
		}
		ce := c.waitClose()
		if ce.Code != shared.CloseKicked || ce.Text != "spamming" {
			t.Errorf("close %d %q, want %d spamming", ce.Code, ce.Text, shared.CloseKicked)
		}
		if d := e.waitDisconnect(c.welcome.Conn); d.code != shared.CloseKicked {
			t.Errorf("OnDisconnect code %d, want %d", d.code, shared.CloseKicked)
		}
	}
	alice.ping()
	if got, err := e.srv.Kick(context.Background(), "bob", server.KickOptions{Reason: "again"}); err != nil || got != 0 {
		t.Errorf("Kick of a gone user = %d, %v; want 0", got, err)
	}
}
