package server_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// A server with one handler: chat lines sent by clients that joined a room
// are published to it. The backend can publish to rooms too.
func Example() {
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	server.Handle(srv, func(ctx context.Context, c *server.Conn, m shared.ChatSend) error {
		if !c.Joined(m.Room) {
			return server.ErrNotJoined // the client gets an error with code not_joined
		}
		_, _, err := srv.Publish(context.Background(), m.Room, shared.ChatMessage{Room: m.Room, User: c.User(), Name: c.Name(), Text: m.Text})
		return err
	})

	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	// go http.ListenAndServe("127.0.0.1:8080", mux)

	seq, reached, err := srv.Publish(context.Background(), "lobby", shared.Notification{Title: "Welcome to the lobby"})
	fmt.Println(seq, reached, err)
	seq, _, _ = srv.Publish(context.Background(), "lobby", shared.Notification{Title: "Second"})
	fmt.Println(seq)
	// Output:
	// 1 0 <nil>
	// 2
}
