package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// startDemo starts a server with the demo handlers and no ticker feed.
func startDemo(t *testing.T, cfg server.Config) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var done <-chan struct{}
	e := startServer(t, cfg, func(s *server.Server) {
		done = backend.Register(ctx, s, backend.Config{TickerInterval: -1})
	})
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func TestChatThreeClientsInARoom(t *testing.T) {
	e := startDemo(t, server.Config{})
	users := []string{"alice", "bob", "carol"}
	clients := make([]*testClient, len(users))
	for i, u := range users {
		clients[i] = e.dial(u)
		clients[i].join("lobby", 0)
	}
	for i, sender := range clients {
		sender.send(0, msg.ChatSend{Room: "lobby", Text: "hi from " + users[i]})
		for _, c := range clients {
			got := waitFor[msg.ChatMessage](c, nil)
			if got.msg.User != users[i] || got.msg.Text != "hi from "+users[i] || got.msg.Room != "lobby" {
				t.Errorf("%s: chat message %d = %+v, want %s's", c.name, i+1, got.msg, users[i])
			}
			if got.msg.Name == "" || got.msg.Time == 0 {
				t.Errorf("%s: chat message %+v lacks name or time", c.name, got.msg)
			}
			if got.env.Room != "lobby" || got.env.Seq != uint64(i+1) {
				t.Errorf("%s: envelope room %q seq %d, want lobby %d", c.name, got.env.Room, got.env.Seq, i+1)
			}
		}
	}
}

func TestDemoRequiresJoin(t *testing.T) {
	e := startDemo(t, server.Config{})
	c := e.dial("dave")
	for _, m := range []shared.Message{
		msg.ChatSend{Room: "lobby", Text: "hello?"},
		msg.DanmakuSend{Room: "stage", Text: "wow"},
	} {
		id := c.request(m)
		got := expectReply[shared.Error](c, id)
		if got.Code != shared.CodeNotJoined {
			t.Errorf("%s before join: error %+v, want code %s", m.MessageType(), got, shared.CodeNotJoined)
		}
	}
}

func TestDanmakuLanesRoundRobin(t *testing.T) {
	e := startDemo(t, server.Config{})
	c := e.dial("erin")
	c.join("stage", 0)
	for i := range backend.Lanes + 2 {
		color := ""
		if i == 1 {
			color = "#ff0066"
		}
		c.send(0, msg.DanmakuSend{Room: "stage", Text: "wow", Color: color})
		got := waitFor[msg.DanmakuComment](c, nil)
		if want := i % backend.Lanes; got.msg.Lane != want {
			t.Errorf("comment %d: lane %d, want %d", i, got.msg.Lane, want)
		}
		wantColor := backend.DefaultColor
		if color != "" {
			wantColor = color
		}
		if got.msg.Color != wantColor || got.msg.User != "erin" {
			t.Errorf("comment %d = %+v, want colour %s by erin", i, got.msg, wantColor)
		}
	}
}

func TestTickerFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var done <-chan struct{}
	e := startServer(t, server.Config{}, func(s *server.Server) {
		done = backend.Register(ctx, s, backend.Config{TickerInterval: 5 * time.Millisecond, Seed: 7})
	})
	c := e.dial("frank")
	c.join(backend.TickerRoom, 0)
	seen := map[string]bool{}
	for len(seen) < len(backend.Symbols()) {
		q := waitFor[msg.TickerQuote](c, nil)
		if q.msg.Price <= 0 || q.env.Room != backend.TickerRoom || q.env.Seq == 0 {
			t.Fatalf("bad quote %+v in envelope %+v", q.msg, q.env)
		}
		seen[q.msg.Symbol] = true
	}
	cancel()
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatal("ticker feed did not stop after its context was cancelled")
	}
}
