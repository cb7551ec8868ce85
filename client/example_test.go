//go:build !js

package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// A chat bot: connect, print every chat line, join a room and say hello.
//
// The server only lets in clients with a token signed with its secret. Run
// the server with a secret and give the bot a token issued with the same
// one:
//
//	export TETHER_SECRET=$(openssl rand -base64 48)
//	bin/tether -web-dir web &
//	TETHER_TOKEN=$(bin/tether token --user bot --name Bot --ttl 720h) go run ./mybot
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	c, err := client.New(client.Config{
		URL: "ws://localhost:8080/ws",
		Transport: client.NativeTransport{
			Header: http.Header{"Authorization": {"Bearer " + os.Getenv("TETHER_TOKEN")}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	client.On(c, func(m testmsg.ChatMessage) {
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
	if err := c.Send(ctx, testmsg.ChatSend{Room: "lobby", Text: "hello"}); err != nil {
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
