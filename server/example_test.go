package server_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Say is a message type of the app's own (declared in its module, not in
// Tether): a line a client says in a room.
type Say struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// MessageType implements shared.Message.
func (Say) MessageType() string { return "app.say" }

// Said is the line as the server publishes it to the room.
type Said struct {
	Room string `json:"room"`
	User string `json:"user"`
	Text string `json:"text"`
}

// MessageType implements shared.Message.
func (Said) MessageType() string { return "app.said" }

// A server with one handler: lines said by clients that joined a room are
// published to it. The backend can publish to rooms too.
func Example() {
	reg := shared.NewRegistry() // the protocol's own messages
	shared.Register[Say](reg)
	shared.Register[Said](reg) // the same registry goes to the app's clients
	srv, err := server.New(server.Config{Registry: reg, Authenticate: server.InsecureQueryIdentity, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	server.Handle(srv, func(ctx context.Context, c *server.Conn, m Say) error {
		if !c.Joined(m.Room) {
			return server.ErrNotJoined // the client gets an error with code not_joined
		}
		_, _, err := srv.Publish(ctx, m.Room, Said{Room: m.Room, User: c.User(), Text: m.Text})
		return err
	})

	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	// go http.ListenAndServe("127.0.0.1:8080", mux)

	seq, reached, err := srv.Publish(context.Background(), "lobby", Said{Room: "lobby", User: "bot", Text: "Welcome to the lobby"})
	fmt.Println(seq, reached, err)
	seq, _, _ = srv.Publish(context.Background(), "lobby", Said{Room: "lobby", User: "bot", Text: "Second"})
	fmt.Println(seq)
	// Output:
	// 1 0 <nil>
	// 2
}

// A keyed-state room: a scoreboard every client holds a copy of
// (client.Map on the other end). The server writes to it; clients write
// through the handler, which decides who may write what.
func ExampleNewMap() {
	srv, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	type Score struct {
		Points int `json:"points"`
	}
	ctx := context.Background()
	scores, err := server.NewMap[string, Score](ctx, srv, "scores", server.MapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// A client may set its own line only, and only upwards.
	scores.OnWrite(func(ctx context.Context, w server.ClientWrite[string, Score]) (Score, error) {
		if w.Key != w.Conn.User() || w.Delete {
			return Score{}, &shared.Error{Code: shared.CodeForbidden, Message: "You may write your own score only."}
		}
		return w.Value, nil
	})

	rev, _ := scores.Set(ctx, "alice", Score{Points: 3})
	_, err = scores.Set(ctx, "alice", Score{Points: 5}, server.IfRev(rev))
	fmt.Println(err)
	_, err = scores.Set(ctx, "alice", Score{Points: 9}, server.IfRev(rev)) // rev is stale now
	fmt.Println(errors.Is(err, server.ErrConflict))
	v, _, _ := scores.Get("alice")
	fmt.Println(v.Points)
	// Output:
	// <nil>
	// true
	// 5
}

// Last values: a fresh joiner of "ticker" gets the latest quote of every
// symbol at once, however slow the feed and whatever the history keeps.
func ExampleLastValue() {
	srv, err := server.New(server.Config{
		Authenticate: server.InsecureQueryIdentity,
		Logger:       slog.New(slog.DiscardHandler),
		LastValues:   []server.LastValue{{Rooms: "ticker", Type: "ticker.quote", Key: "symbol"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	_, _, err = srv.Publish(context.Background(), "ticker", testmsg.TickerQuote{Symbol: "BTC", Price: 64000})
	fmt.Println(err)
	// Output:
	// <nil>
}
