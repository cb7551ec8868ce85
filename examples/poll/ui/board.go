package ui

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/tetherkit/tether/client"

	"github.com/tetherkit/tether/examples/poll/msg"
)

// board shows the question, an option button with its count for each, the
// page's own vote and the connection's state.
type board struct {
	app.Compo
	live *live
	stop func() // stops the map's OnChange

	state   client.StateInfo
	tally   msg.Tally
	mine    mine
	problem string
}

// OnMount watches the session's values with the board's own context, and
// renders the map's tally again on every change of the map's copy (a
// snapshot, after a subscribe or a resume that needed one, included).
func (b *board) OnMount(ctx app.Context) {
	b.live.status.Watch(ctx, func(s client.StateInfo) { b.state = s })
	b.live.mine.Watch(ctx, func(m mine) { b.mine = m })
	b.stop = b.live.poll.OnChange(func(client.Change[string, msg.Tally]) {
		ctx.Dispatch(func(app.Context) { b.load() })
	})
	b.load()
}

// OnDismount stops the board's OnChange.
func (b *board) OnDismount() {
	if b.stop != nil {
		b.stop()
	}
}

// load takes the tally from the map's copy.
func (b *board) load() {
	if e, ok := b.live.poll.All()[msg.TallyKey]; ok {
		b.tally = e.Value
	}
}

func (b *board) Render() app.UI {
	// A vote of an earlier round was taken away by a reset.
	my := ""
	if b.mine.Round == b.tally.Round {
		my = b.mine.Option
	}
	total := b.tally.Total()
	return app.Div().ID("poll").Body(
		app.Header().Body(
			app.Span().ID("status").DataSet("state", b.state.State.String()).Text(status(b.state)),
		),
		app.H1().ID("question").Text(b.tally.Question),
		app.Ul().ID("options").Body(
			app.Range(b.tally.Options).Slice(func(i int) app.UI {
				o := b.tally.Options[i]
				pct := 0
				if total > 0 {
					pct = o.Votes * 100 / total
				}
				return app.Li().Class("option").DataSet("option", o.Name).DataSet("votes", o.Votes).Body(
					app.Button().Class("vote").Text(o.Name).
						Aria("pressed", strconv.FormatBool(o.Name == my)).
						OnClick(func(ctx app.Context, _ app.Event) { b.vote(ctx, o.Name) }),
					app.Span().Class("bar").Style("width", fmt.Sprintf("%d%%", pct)),
					app.Span().Class("count").Text(o.Votes),
				)
			}),
		),
		app.P().ID("mine").Text(func() string {
			if my == "" {
				return "You have not voted."
			}
			return "You voted " + my + ". Click another option to change your vote."
		}()),
		app.If(b.problem != "", func() app.UI { return app.P().Class("problem").Text(b.problem) }),
	)
}

// vote sends the page's vote; the answer shows it as the page's own, and
// the new counts arrive as a change of the map.
func (b *board) vote(ctx app.Context, option string) {
	l := b.live
	ctx.Async(func() {
		vctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ballot, err := client.Request[msg.Ballot](vctx, l.c, msg.Vote{Option: option}, client.Retry())
		if err == nil {
			l.show(ballot)
		}
		ctx.Dispatch(func(app.Context) {
			b.problem = ""
			if err != nil {
				b.problem = "Your vote did not count: " + err.Error()
			}
		})
	})
}

// status is the connection's state as a sentence.
func status(s client.StateInfo) string {
	switch s.State {
	case client.Open:
		return "Live"
	case client.Reconnecting:
		return fmt.Sprintf("Reconnecting in %ds…", max(0, int(time.Until(s.RetryAt).Seconds())))
	case client.Closed:
		if s.Err != nil {
			return "Disconnected: " + s.Err.Error()
		}
		return "Disconnected"
	}
	return "Connecting…"
}
