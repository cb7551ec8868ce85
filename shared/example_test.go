//go:build !js

package shared_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Vote is a message type of a program that imports Tether as a library: it
// is declared in that program, not in Tether's shared/.
type Vote struct {
	Poll   string `json:"poll"`
	Choice string `json:"choice"`
}

// MessageType implements shared.Message.
func (Vote) MessageType() string { return "poll.vote" }

// Validate implements shared.Validator: a vote without a choice never
// reaches the handler.
func (v Vote) Validate() error {
	if v.Choice == "" {
		return &shared.FieldError{Field: "choice", Problem: "is required"}
	}
	return nil
}

// A program with message types of its own builds its registry from the
// system messages plus its types and hands the same registry to the server
// and to its clients.
func Example_ownMessageTypes() {
	reg := shared.NewRegistry()
	shared.Register[Vote](reg)

	srv, err := server.New(server.Config{Registry: reg, Authenticate: server.InsecureQueryIdentity})
	if err != nil {
		log.Fatal(err)
	}
	votes := make(chan Vote, 1)
	server.Handle(srv, func(_ context.Context, _ *server.Conn, v Vote) error {
		votes <- v
		return nil
	})
	hs := httptest.NewServer(srv)
	defer func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.New(client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?user=ann", Registry: reg})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	go func() { _ = cl.Run(ctx) }()

	// Request waits for the connection, sends the vote and waits for the
	// server's verdict.
	if _, err := client.Request[shared.Reply](ctx, cl, Vote{Poll: "lunch", Choice: "ramen"}); err != nil {
		log.Fatalf("vote: %v", err)
	}
	fmt.Println("the server counted a vote for", (<-votes).Choice)

	_, err = client.Request[shared.Reply](ctx, cl, Vote{Poll: "lunch"})
	var se *shared.Error
	if errors.As(err, &se) {
		fmt.Println("a vote without a choice:", se.Code, se.Field)
	}

	fmt.Println("poll.vote known:", reg.Known("poll.vote"), "· chat.send known:", reg.Known("chat.send"))
	// Output:
	// the server counted a vote for ramen
	// a vote without a choice: bad_data data.choice
	// poll.vote known: true · chat.send known: false
}
