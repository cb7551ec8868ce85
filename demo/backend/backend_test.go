package backend_test

import (
	"context"
	"errors"
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

// joined is a running client of ts for user, in room, whose messages of
// type T arrive on the returned channel.
func joined[T shared.Message](t *testing.T, ts *tethertest.Server, user, room string) (*client.Client, chan received[T]) {
	t.Helper()
	c := demotest.NewClient(t, client.Config{URL: ts.URL(user)})
	got := make(chan received[T], 64)
	client.OnMeta(c, func(m T, meta client.Meta) { got <- received[T]{m, meta} })
	tethertest.Run(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), tethertest.Wait)
	defer cancel()
	if _, err := c.Join(ctx, room, 0); err != nil {
		t.Fatalf("%s joins %s: %v", user, room, err)
	}
	return c, got
}

// received is a message with its envelope's metadata.
type received[T any] struct {
	msg  T
	meta client.Meta
}

func request(t *testing.T, c *client.Client, m shared.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tethertest.Wait)
	defer cancel()
	_, err := client.Request[shared.Reply](ctx, c, m)
	return err
}

func TestChatThreeClientsInARoom(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: -1})
	users := []string{"alice", "bob", "carol"}
	clients := make([]*client.Client, len(users))
	inboxes := make([]chan received[msg.ChatMessage], len(users))
	for i, u := range users {
		clients[i], inboxes[i] = joined[msg.ChatMessage](t, ts, u, "lobby")
	}
	for i, sender := range clients {
		if err := request(t, sender, msg.ChatSend{Room: "lobby", Text: "hi from " + users[i]}); err != nil {
			t.Fatalf("%s says hi: %v", users[i], err)
		}
		for j, in := range inboxes {
			got := tethertest.Receive(t, in, users[j]+"'s chat message")
			if got.msg.User != users[i] || got.msg.Text != "hi from "+users[i] || got.msg.Room != "lobby" {
				t.Errorf("%s: chat message %d = %+v, want %s's", users[j], i+1, got.msg, users[i])
			}
			if got.msg.Name == "" || got.msg.Time == 0 {
				t.Errorf("%s: chat message %+v lacks name or time", users[j], got.msg)
			}
			if got.meta.Room != "lobby" || got.meta.Seq != uint64(i+1) {
				t.Errorf("%s: envelope room %q seq %d, want lobby %d", users[j], got.meta.Room, got.meta.Seq, i+1)
			}
		}
	}
}

func TestDemoRequiresJoin(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: -1})
	c, _ := joined[msg.ChatMessage](t, ts, "dave", "elsewhere")
	for _, m := range []shared.Message{
		msg.ChatSend{Room: "lobby", Text: "hello?"},
		msg.DanmakuSend{Room: "stage", Text: "wow"},
		msg.DiceRoll{Room: "table"},
		msg.ChatTyping{Room: "lobby"},
	} {
		err := request(t, c, m)
		var se *shared.Error
		if !errors.As(err, &se) || se.Code != shared.CodeNotJoined {
			t.Errorf("%s before join: error %v, want code %s", m.MessageType(), err, shared.CodeNotJoined)
		}
	}
}

func TestDanmakuLanesRoundRobin(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: -1})
	c, got := joined[msg.DanmakuComment](t, ts, "erin", "stage")
	for i := range backend.Lanes + 2 {
		color := ""
		if i == 1 {
			color = "#ff0066"
		}
		if err := request(t, c, msg.DanmakuSend{Room: "stage", Text: "wow", Color: color}); err != nil {
			t.Fatalf("comment %d: %v", i, err)
		}
		m := tethertest.Receive(t, got, "a danmaku comment").msg
		if want := i % backend.Lanes; m.Lane != want {
			t.Errorf("comment %d: lane %d, want %d", i, m.Lane, want)
		}
		wantColor := backend.DefaultColor
		if color != "" {
			wantColor = color
		}
		if m.Color != wantColor || m.User != "erin" {
			t.Errorf("comment %d = %+v, want colour %s by erin", i, m, wantColor)
		}
	}
}

// TestDiceRoll exercises the README's worked example end to end: the
// server rolls, everyone in the room sees the result, a die the message
// type refuses is answered with the field at fault.
func TestDiceRoll(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: -1})
	c, got := joined[msg.DiceRolled](t, ts, "roller", "table")
	if err := request(t, c, msg.DiceRoll{Room: "table", Sides: 20}); err != nil {
		t.Fatalf("roll: %v", err)
	}
	r := tethertest.Receive(t, got, "the roll's result").msg
	if r.Sides != 20 || r.Result < 1 || r.Result > 20 || r.User != "roller" {
		t.Errorf("rolled %+v, want a d20 result for roller", r)
	}
	err := request(t, c, msg.DiceRoll{Room: "table", Sides: 1})
	var se *shared.Error
	if !errors.As(err, &se) || se.Code != shared.CodeBadData || se.Field != "data.sides" {
		t.Errorf("a one-sided die: error %v, want %s on data.sides", err, shared.CodeBadData)
	}
}

func TestTickerFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var done <-chan struct{}
	ts := tethertest.NewServer(t, server.Config{Registry: msg.NewRegistry()}, func(s *tethertest.Server) {
		done = backend.Register(ctx, s.Server, backend.Config{TickerInterval: 5 * time.Millisecond, Seed: 7})
	})
	_, got := joined[msg.TickerQuote](t, ts, "frank", backend.TickerRoom)
	seen := map[string]bool{}
	for len(seen) < len(backend.Symbols()) {
		q := tethertest.Receive(t, got, "a quote")
		if q.msg.Price <= 0 || q.meta.Room != backend.TickerRoom || q.meta.Seq == 0 {
			t.Fatalf("bad quote %+v with meta %+v", q.msg, q.meta)
		}
		seen[q.msg.Symbol] = true
	}
	cancel()
	select {
	case <-done:
	case <-time.After(tethertest.Wait):
		t.Fatal("ticker feed did not stop after its context was cancelled")
	}
}
