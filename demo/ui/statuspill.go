package ui

import (
	"context"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
)

// StatusPill shows the connection state, with a live countdown while
// waiting to reconnect.
type StatusPill struct {
	app.Compo

	s      *Session
	online bool
	stop   func()
	cancel context.CancelFunc
}

// OnInit reads navigator.onLine before the first render, which comes
// before OnMount: a pill drawn with the page must not say "offline".
func (p *StatusPill) OnInit() {
	if app.IsClient {
		p.online = navigatorOnline()
	}
}

// OnMount follows the session state and, four times a second, the clock
// (for the countdown) and the browser's navigator.onLine.
func (p *StatusPill) OnMount(ctx app.Context) {
	p.online = navigatorOnline()
	p.stop = p.s.status.watch(redraw(ctx))
	tctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	last := p.online
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
				online := navigatorOnline()
				if online != last || p.s.Status().Info.State == client.Reconnecting {
					last = online
					update(ctx, func(app.Context) { p.online = online })
				}
			}
		}
	}()
}

// OnDismount stops following.
func (p *StatusPill) OnDismount() {
	p.stop()
	p.cancel()
}

// Render draws the pill.
func (p *StatusPill) Render() app.UI {
	st := p.s.Status()
	class, text := statusLabel(st, time.Now(), p.online || !app.IsClient)
	var action app.UI
	switch {
	case st.LoggedIn && st.Info.State == client.Reconnecting:
		action = button("status-btn", "Retry now", p.retry, "id", "status-retry")
	case st.LoggedIn && st.Info.State == client.Closed:
		action = button("status-btn", "Reconnect", p.relogin, "id", "status-reconnect")
	}
	attrs := []string{"id", "status", "aria-live", "polite"}
	if st.LoggedIn && st.Info.State == client.Reconnecting {
		// When the next attempt is due, for tests and tools.
		attrs = append(attrs, "data-retry-at", strconv.FormatInt(st.Info.RetryAt.UnixMilli(), 10))
	}
	return ha("div", "status status-"+class, attrs,
		ha("span", "status-dot", []string{"aria-hidden", "true"}),
		ht("span", "status-text", text, "title", text),
		action,
	)
}

func (p *StatusPill) retry(app.Context, app.Event) { p.s.Reconnect() }

func (p *StatusPill) relogin(app.Context, app.Event) { go p.s.Relogin(context.Background()) }

// navigatorOnline reads navigator.onLine (true outside a browser).
func navigatorOnline() bool {
	if !app.IsClient {
		return true
	}
	v := app.Window().Get("navigator").Get("onLine")
	return v.Type() != app.TypeBoolean || v.Bool()
}
