package backend_test

import (
	"context"
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

// TestTyping: chat.typing from one member reaches the room's members with
// the sender's id and name and no seq, and is not kept in the history.
func TestTyping(t *testing.T) {
	ts := demotest.NewServer(t, server.Config{}, backend.Config{TickerInterval: -1})
	url := "ws" + strings.TrimPrefix(ts.HTTP.URL, "http") + "/ws?user="
	connect := func(user string) (*client.Client, chan msg.ChatTyping, chan client.Meta, shared.Joined) {
		c := demotest.NewClient(t, client.Config{URL: url + user + "&name=" + strings.ToUpper(user)})
		got, metas := make(chan msg.ChatTyping, 8), make(chan client.Meta, 8)
		client.OnMeta(c, func(m msg.ChatTyping, meta client.Meta) { got <- m; metas <- meta })
		tethertest.Run(t, c)
		jctx, jcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer jcancel()
		j, err := c.Join(jctx, "lobby", 10)
		if err != nil {
			t.Fatalf("%s joins: %v", user, err)
		}
		return c, got, metas, j
	}
	alice, _, _, _ := connect("alice")
	_, bobGot, bobMeta, _ := connect("bob")

	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := client.Request[shared.Reply](rctx, alice, msg.ChatTyping{Room: "lobby"}); err != nil {
		t.Fatalf("chat.typing: %v", err)
	}
	select {
	case m := <-bobGot:
		meta := <-bobMeta
		if m.User != "alice" || m.Name != "ALICE" || m.Room != "lobby" || meta.Seq != 0 {
			t.Fatalf("bob got %+v (seq %d), want alice typing in lobby without seq", m, meta.Seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob never saw alice typing")
	}
	if _, err := client.Request[shared.Reply](rctx, alice, msg.ChatTyping{Room: "elsewhere"}); err == nil {
		t.Error("chat.typing in a room the sender is not in was accepted")
	}
	// A later joiner gets the history: the typing is not in it.
	if _, _, _, j := connect("carol"); j.Seq != 0 || j.Replayed != 0 {
		t.Fatalf("carol, who joined later, got %+v: typing took a seq or was kept in the history", j)
	}
}
