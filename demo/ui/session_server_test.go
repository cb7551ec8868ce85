//go:build !js

package ui

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/demotest"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestSessionAgainstServer runs two sessions, with the native transport,
// against a real server: login, lobby, chat, presence, pages' rooms,
// notifications, kick, logout.
func TestSessionAgainstServer(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: 20 * time.Millisecond})
	srv := ts.Server
	page, _ := url.Parse(ts.HTTP.URL)

	login := func(nick string) *Session {
		s := NewSession()
		s.Login(nick, socketURL(page, userID(nick), nick))
		t.Cleanup(func() {
			s.Logout()
			select {
			case <-s.stopped():
			case <-time.After(5 * time.Second):
				t.Errorf("%s: client still running 5 s after Logout", nick)
			}
		})
		return s
	}
	alice := login("Alice")
	waitFor(t, alice, "alice in the lobby", func() bool { return alice.Chat().Ready })
	if st := alice.Status(); st.Info.State != client.Open || st.User != "alice" {
		t.Fatalf("alice status = %+v", st)
	}

	bob := login("Bob")
	waitFor(t, bob, "bob in the lobby", func() bool { return bob.Chat().Ready })
	waitFor(t, alice, "alice sees bob arrive", func() bool {
		return memberIDs(alice.Chat().Members) == "alice,bob"
	})

	if msg := bob.Send(context.Background(), msg.ChatSend{Room: "lobby", Text: "hello alice"}); msg != "" {
		t.Fatalf("bob's chat.send: %s", msg)
	}
	waitFor(t, alice, "alice gets bob's line", func() bool {
		lines := alice.Chat().Lines
		return len(lines) == 1 && lines[0].Text == "hello alice" && lines[0].User == "bob" && !lines[0].Mine
	})
	if msg := bob.Send(context.Background(), msg.ChatSend{Room: "not-joined", Text: "x"}); !strings.Contains(msg, "join") {
		t.Errorf("chat.send to a room not joined: %q, want the server's not_joined sentence", msg)
	}

	// A page's room: joined while the page is open, left after.
	bob.rooms.acquire(TickerRoom, forTicker)
	waitFor(t, bob, "bob in the ticker room", func() bool { ready, _ := bob.RoomState(TickerRoom); return ready })
	// Polled, as the ticker page does.
	tethertest.WaitUntil(t, "bob has a quote of every symbol", func() bool { return len(bob.Quotes()) >= len(backend.Symbols()) })
	bob.rooms.release(TickerRoom, forTicker)
	tethertest.WaitUntil(t, "bob leaves the ticker room", func() bool {
		return !slices.ContainsFunc(tethertest.Presence(t, srv, TickerRoom), func(m shared.Member) bool { return m.User == "bob" })
	})

	// Leaving the lobby is seen by alice.
	bob.LeaveRoom("lobby")
	waitFor(t, alice, "alice sees bob leave", func() bool { return memberIDs(alice.Chat().Members) == "alice" })

	// Notifications become toasts and log entries.
	if n, err := srv.SendToUser(context.Background(), "alice", msg.Notification{Title: "Deploy done", Level: "success"}); err != nil || n != 1 {
		t.Fatalf("SendToUser reached %d connections (%v)", n, err)
	}
	waitFor(t, alice, "alice's toast", func() bool {
		ts := alice.Toasts()
		return len(ts) == 1 && ts[0].Title == "Deploy done" && ts[0].Level == "success"
	})

	// A kick ends the session with the reason and no reconnection.
	if _, err := srv.Kick(context.Background(), "alice", server.KickOptions{Reason: "spamming"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, alice, "alice kicked", func() bool {
		_, text := statusLabel(alice.Status(), time.Now(), true)
		return text == "kicked: spamming"
	})
	select {
	case <-alice.stopped():
	case <-time.After(5 * time.Second):
		t.Fatal("alice's client still runs after the kick")
	}
}

// waitFor waits until cond holds, re-checking whenever one of s's stores
// changes.
func waitFor(t *testing.T, s *Session, what string, cond func() bool) {
	t.Helper()
	changed := make(chan struct{}, 1)
	stop := watchAll(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}, &s.status, &s.rooms.changes, &s.chat.changes, &s.toasts.changes, &s.notes.changes)
	defer stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
