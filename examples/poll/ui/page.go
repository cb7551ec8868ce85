package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/client/goapp"
	"github.com/tetherkit/tether/client/session"

	"github.com/tetherkit/tether/examples/poll/msg"
)

// Page is the poll's one page: the sign-in form, then the poll.
type Page struct {
	app.Compo

	login   *session.Login
	live    *live  // nil until signed in
	checked bool   // the login cookie was checked
	problem string // why signing in failed
	name    string // the name typed
}

// live is one signed-in session: the client and what it shows.
type live struct {
	c      *client.Client
	cancel context.CancelFunc
	status *goapp.Value[client.StateInfo]
	poll   *client.Map[string, msg.Tally] // the server's map msg.Map
	mine   *goapp.Value[mine]
}

// mine is the page's own vote and the round it was cast in: a reset (a new
// round) takes it away.
type mine struct {
	Option string
	Round  uint64
}

// OnMount resumes a login that is still valid (a reload, a second tab).
func (p *Page) OnMount(ctx app.Context) {
	login, err := session.New("")
	if err != nil {
		p.problem = err.Error()
		return
	}
	p.login = login
	ctx.Async(func() {
		_, err := login.Me(ctx)
		ctx.Dispatch(func(ctx app.Context) {
			p.checked = true
			if err == nil {
				p.connect(ctx)
			}
		})
	})
}

// OnDismount stops the session's client.
func (p *Page) OnDismount() {
	if p.live != nil {
		p.live.cancel()
	}
}

func (p *Page) Render() app.UI {
	if p.live != nil {
		return app.Main().Body(&board{live: p.live})
	}
	return app.Main().Body(
		app.H1().Text("Live poll"),
		app.Form().ID("signin").OnSubmit(p.signIn).Body(
			app.Label().For("name").Text("Your name"),
			app.Input().ID("name").Value(p.name).Required(true).MaxLength(32).AutoFocus(true).
				Disabled(!p.checked).OnInput(p.ValueTo(&p.name)),
			app.Button().ID("go").Type("submit").Disabled(!p.checked).Text("Vote"),
		),
		app.If(p.problem != "", func() app.UI { return app.P().Class("problem").Text(p.problem) }),
	)
}

// signIn signs in as a guest with the typed name, then connects.
func (p *Page) signIn(ctx app.Context, e app.Event) {
	e.PreventDefault()
	name := strings.TrimSpace(p.name)
	ctx.Async(func() {
		_, err := p.login.Guest(ctx, name)
		ctx.Dispatch(func(ctx app.Context) {
			if err != nil {
				p.problem = err.Error()
				return
			}
			p.problem = ""
			p.connect(ctx)
		})
	})
}

// connect starts the client on the page's WebSocket (the login cookie goes
// with the handshake), subscribes to the poll's map (its snapshot holds the
// counts; after a reconnect the client resumes it from the changes missed),
// asks for the page's own vote and shows the poll.
func (p *Page) connect(ctx app.Context) {
	c, err := client.New(client.Config{
		URL:      p.login.WebSocketURL(),
		Registry: msg.NewRegistry(),
		Token:    p.login.Token, // refreshes the connection's token in-band
	})
	if err != nil {
		p.problem = err.Error()
		return
	}
	poll, err := client.NewMap[string, msg.Tally](c, msg.Map)
	if err != nil {
		p.problem = err.Error()
		return
	}
	// The board watches these with its own context.
	l := &live{c: c, status: goapp.State(c), poll: poll, mine: &goapp.Value[mine]{}}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	p.live = l
	client.WatchBrowser(runCtx, c) // reconnect at once when the network or the tab comes back
	ctx.Async(func() {
		err := c.Run(runCtx)
		if he := (*client.HandshakeError)(nil); errors.As(err, &he) && he.Status == http.StatusUnauthorized {
			ctx.Dispatch(func(app.Context) { p.signedOut(l, "Signed out: sign in again.") })
		}
	})
	ctx.Async(func() {
		// Subscribe waits for the connection; the client keeps the
		// subscription across reconnects.
		if err := poll.Subscribe(runCtx); err != nil {
			if runCtx.Err() == nil {
				ctx.Dispatch(func(app.Context) { p.problem = "Could not load the poll: " + err.Error() })
			}
			return
		}
		l.look(runCtx)
	})
}

// look asks for the page's own vote.
func (l *live) look(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := client.Request[msg.Ballot](ctx, l.c, msg.Look{}, client.Retry())
	if err != nil {
		return // the page shows no vote of its own until it votes
	}
	l.show(b)
}

// show shows the page's own vote from a Ballot, unless the page knows a
// later round's.
func (l *live) show(b msg.Ballot) {
	l.mine.Update(func(m mine) mine {
		if b.Round < m.Round {
			return m
		}
		return mine{Option: b.Mine, Round: b.Round}
	})
}

// signedOut ends the session l and shows the form with problem.
func (p *Page) signedOut(l *live, problem string) {
	if p.live != l {
		return
	}
	l.cancel()
	_ = l.c.Close()
	p.live, p.problem = nil, problem
}
