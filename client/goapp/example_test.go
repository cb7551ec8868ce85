package goapp_test

import (
	"context"
	"log"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/client/goapp"
	"github.com/tetherkit/tether/shared"
)

// Voted is an app's own message: someone voted for Choice.
type Voted struct {
	Choice string `json:"choice"`
}

// MessageType implements shared.Message.
func (Voted) MessageType() string { return "poll.voted" }

// Tally is what the page shows: votes per choice.
type Tally map[string]int

// addVote folds one vote into a tally (a new map: see Value.Update).
func addVote(t Tally, v Voted) Tally {
	n := make(Tally, len(t)+1)
	for k, c := range t {
		n[k] = c
	}
	n[v.Choice]++
	return n
}

// results is a component that shows the tally and the connection's state.
// It watches with its own context, in OnMount: it does not matter which
// component made the client, or whether that one is still on the page.
type results struct {
	app.Compo
	status *goapp.Value[client.StateInfo]
	tally  *goapp.Value[Tally]

	state client.StateInfo
	votes Tally
}

func (r *results) OnMount(ctx app.Context) {
	r.status.Watch(ctx, func(s client.StateInfo) { r.state = s })
	r.tally.Watch(ctx, func(t Tally) { r.votes = t })
}

func (r *results) Render() app.UI {
	return app.Div().Body(
		app.P().Text(r.state.State.String()),
		app.P().Textf("yes %d, no %d", r.votes["yes"], r.votes["no"]),
	)
}

// The client's state and an app's own messages, shown by a go-app
// component.
func Example() {
	reg := shared.NewRegistry()
	shared.Register[Voted](reg)
	c, err := client.New(client.Config{URL: "ws://localhost:8080/ws", Registry: reg})
	if err != nil {
		log.Fatal(err)
	}
	// Before Run, so that no message is missed.
	r := &results{
		status: goapp.State(c),
		tally:  goapp.Fold(c, &goapp.Value[Tally]{}, addVote),
	}
	go func() {
		if err := c.Run(context.Background()); err != nil {
			log.Printf("disconnected for good: %v", err) // the status shows it too
		}
	}()
	app.Route("/", func() app.Composer { return r })
	app.RunWhenOnBrowser()
}
