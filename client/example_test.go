//go:build !js

package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// Line is a message type of the app's own (declared in its module, not in
// Tether): a chat line, sent by clients and published by the server.
type Line struct {
	Room string `json:"room"`
	Name string `json:"name,omitempty"`
	Text string `json:"text"`
}

// MessageType implements shared.Message.
func (Line) MessageType() string { return "app.line" }

// A chat bot: connect, print every chat line, join a room and say hello.
//
// The app's server (with Line in its registry) only lets in clients with a
// token signed with its secret (server/auth); the bot is given a token
// issued with the same one, here in $TETHER_TOKEN.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	reg := shared.NewRegistry() // the protocol's own messages
	shared.Register[Line](reg)  // and the app's, as its server has them
	c, err := client.New(client.Config{
		URL:      "ws://localhost:8080/ws",
		Registry: reg,
		Transport: client.NativeTransport{
			Header: http.Header{"Authorization": {"Bearer " + os.Getenv("TETHER_TOKEN")}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	client.On(c, func(m Line) {
		fmt.Printf("%s: %s\n", m.Name, m.Text) // runs on the read goroutine: do not block
	})
	c.OnState(func(s client.StateInfo) { log.Printf("connection %s", s.State) })
	go func() {
		// A bad or missing token ends Run at once with a *client.HandshakeError
		// (HTTP 401); kicked or rejected, with a *client.CloseError.
		if err := c.Run(ctx); err != nil {
			log.Printf("disconnected for good: %v", err)
		}
	}()

	// Join waits for the connection (and fails with the HandshakeError if the
	// server refuses the token); the last 20 messages arrive through the
	// handler above.
	joined, err := c.Join(ctx, "lobby", 20)
	if err != nil {
		log.Fatalf("join: %v", err)
	}
	log.Printf("in %s with %d members", joined.Room, len(joined.Members))

	// Send queues the line and sends it exactly once, also across reconnects.
	if err := c.Send(ctx, Line{Room: "lobby", Text: "hello"}); err != nil {
		log.Printf("send: %v", err)
	}
}

// Requests return the server's typed reply, or a *shared.Error.
func ExampleRequest() {
	var c *client.Client // connected as in the package example
	list, err := client.Request[shared.PresenceList](context.Background(), c, shared.PresenceList{Room: "lobby"})
	if err != nil {
		log.Printf("presence: %v", err)
		return
	}
	for _, m := range list.Members {
		fmt.Println(m.User)
	}
}
