package ui

import (
	"context"
	"strconv"
	"sync"
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
	stop   func()         // stops following the session and the browser
	clock  countdownClock // redraws the countdown while reconnecting
}

// OnInit reads navigator.onLine before the first render, which comes
// before OnMount: a pill drawn with the page must not say "offline".
func (p *StatusPill) OnInit() {
	if app.IsClient {
		p.online = navigatorOnline()
	}
}

// OnMount follows the session and the browser (follow); OnInit, which
// go-app calls on every mount, has read navigator.onLine.
func (p *StatusPill) OnMount(ctx app.Context) {
	p.stop = p.follow(func() { update(ctx, nil) }, func(online bool) {
		update(ctx, func(app.Context) { p.online = online })
	})
}

// OnDismount stops following.
func (p *StatusPill) OnDismount() { p.stop() }

// follow calls redraw whenever the session's state changes and, while the
// session waits to reconnect, four times a second for the countdown; and
// setOnline at the browser's online and offline events. A connected page
// wakes for nothing. It returns the function that stops all of it.
func (p *StatusPill) follow(redraw func(), setOnline func(bool)) (stop func()) {
	p.clock.tick = redraw
	reconnecting := func() bool { return p.s.Status().Info.State == client.Reconnecting }
	stopStatus := p.s.status.watch(func(struct{}) {
		p.clock.run(reconnecting())
		redraw()
	})
	stopOnline := watchOnline(setOnline)
	p.clock.run(reconnecting())
	return func() {
		stopStatus()
		stopOnline()
		p.clock.run(false)
	}
}

// countdownClock calls tick four times a second while it runs.
type countdownClock struct {
	tick func()

	mu   sync.Mutex
	stop context.CancelFunc // nil while it does not run
}

// run starts or stops the clock.
func (c *countdownClock) run(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case on && c.stop == nil:
		ctx, cancel := context.WithCancel(context.Background())
		c.stop = cancel
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					c.tick()
				}
			}
		}()
	case !on && c.stop != nil:
		c.stop()
		c.stop = nil
	}
}

// running reports whether the clock runs.
func (c *countdownClock) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stop != nil
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
