package tethertest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/internal/tethertest/raw"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRawAndNativeClientsMeet: a raw client and a native one, both made by
// the package, join one room on one server and see each other's chat.
func TestRawAndNativeClientsMeet(t *testing.T) {
	s := tethertest.NewServer(t, server.Config{}, func(s *tethertest.Server) {
		server.Handle(s.Server, func(ctx context.Context, c *server.Conn, m testmsg.ChatSend) error {
			_, _, err := s.Publish(ctx, m.Room, testmsg.ChatMessage{Room: m.Room, User: c.User(), Name: c.Name(), Text: m.Text})
			return err
		})
	})
	ws, w := s.Dial(t, "ann")
	if w.User != "ann" || w.Conn == "" {
		t.Fatalf("welcome = %+v, want user ann and a connection id", w)
	}
	tethertest.Join(t, ws, "lobby")

	c := s.Client(t, "bob", client.Config{})
	got := make(chan testmsg.ChatMessage, 1)
	client.On(c, func(m testmsg.ChatMessage) { got <- m })
	if _, err := c.Join(context.Background(), "lobby", 0); err != nil {
		t.Fatalf("bob joins: %v", err)
	}
	tethertest.WaitUntil(t, "two members in the lobby", func() bool { return len(tethertest.Presence(t, s.Server, "lobby")) == 2 })

	frame, err := shared.Encode(shared.Envelope{ID: 7}, testmsg.ChatSend{Room: "lobby", Text: "hi bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		t.Fatalf("ann sends: %v", err)
	}
	if m := tethertest.Receive(t, got, "bob gets ann's line"); m.Text != "hi bob" || m.User != "ann" {
		t.Fatalf("bob got %+v, want ann's \"hi bob\"", m)
	}
	env := tethertest.ReadType(t, ws, shared.TypeOf[testmsg.ChatMessage]())
	if !strings.Contains(string(env.Data), "hi bob") {
		t.Fatalf("ann's own line came back as %s", env.Data)
	}
}

// TestDialJoinRefused: a join the server refuses is an error that wraps
// raw.ErrJoinRefused and closes the connection; a refused handshake says
// the status.
func TestDialJoinRefused(t *testing.T) {
	s := tethertest.NewServer(t, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), tethertest.Wait)
	defer cancel()
	if _, _, err := raw.DialJoin(ctx, websocket.DefaultDialer, s.URL("ann"), nil, "not a room name"); !errors.Is(err, raw.ErrJoinRefused) {
		t.Fatalf("DialJoin to a bad room = %v, want ErrJoinRefused", err)
	}
	ws, w, err := raw.DialJoin(ctx, websocket.DefaultDialer, s.URL("ann"), nil, "lobby")
	if err != nil || w.User != "ann" {
		t.Fatalf("DialJoin = %+v, %v; want ann joined", w, err)
	}
	_ = ws.Close()

	locked := tethertest.NewServer(t, server.Config{
		Authenticate: func(*http.Request) (server.Identity, error) { return server.Identity{}, errors.New("no entry") },
	})
	_, _, err = raw.DialJoin(ctx, websocket.DefaultDialer, locked.URL("ann"), nil, "lobby")
	if err == nil || !strings.Contains(err.Error(), "handshake refused: HTTP 401") {
		t.Fatalf("DialJoin to a server that refuses everyone = %v, want the 401 it answered", err)
	}
}
