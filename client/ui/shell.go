package ui

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
)

// nickKey is the localStorage key of the nickname, so a reload signs in
// again.
const nickKey = "tether.nick"

// Shell is the frame of every page: navigation bar, status pill, the page
// and the toasts. Every route creates a Shell; go-app keeps the mounted one
// across navigation and only updates Page, so the toasts and the status
// stay put.
type Shell struct {
	app.Compo
	// Page is the path of the page to show.
	Page string

	s          *Session
	stop       func()
	newVersion bool // the service worker downloaded a new build
}

// OnAppUpdate is called by go-app when the service worker has installed a
// new build (the bundle's hash is the app version, so every rebuild is one).
func (sh *Shell) OnAppUpdate(ctx app.Context) { sh.newVersion = ctx.AppUpdateAvailable() }

func (sh *Shell) reload(ctx app.Context, e app.Event) { ctx.Reload() }

// OnMount marks the page ready and signs in again with the stored
// nickname.
func (sh *Shell) OnMount(ctx app.Context) {
	// The server-rendered page looks like the app but is replaced when the
	// wasm starts; browser tests wait for body[data-ready] before touching
	// anything.
	app.Window().Get("document").Get("body").Call("setAttribute", "data-ready", "true")
	// Browsers check for a new service worker (a new build) on their own
	// schedule; ask now, and whenever the connection comes back, as a
	// restarted server may serve a new build.
	app.TryUpdate()
	wasDown := false
	sh.stop = sh.s.watch(topicState, func(any) {
		switch sh.s.Status().Info.State {
		case client.Reconnecting:
			wasDown = true
		case client.Open:
			if wasDown {
				wasDown = false
				app.TryUpdate()
			}
		}
		update(ctx, nil)
	})
	if sh.s.Status().LoggedIn {
		return
	}
	var nick string
	_ = ctx.LocalStorage().Get(nickKey, &nick)
	if nick = cleanNick(nick); nick != "" {
		page := app.Window().URL()
		go sh.s.SignIn(context.Background(), nick, page, true)
	}
}

// OnDismount stops watching the session.
func (sh *Shell) OnDismount() {
	if sh.stop != nil {
		sh.stop()
	}
}

// Render draws the frame around the page.
func (sh *Shell) Render() app.UI {
	st := sh.s.Status()
	links := make([]app.UI, 0, 5)
	for _, p := range pages() {
		links = append(links, ha("a", cls("nav-link", on(p.path == sh.Page, "active")), []string{"href", p.path},
			ht("span", "nav-icon", p.icon, "aria-hidden", "true"),
			ht("span", "nav-title", p.title),
		))
	}
	var me app.UI
	if st.LoggedIn {
		me = h("div", "me",
			avatar(st.User, st.Nick, "avatar-sm"),
			ht("span", "me-name", st.Nick, "id", "me-name", "data-user", st.User, "title", "@"+st.User),
			button("btn btn-ghost btn-sm", "Sign out", sh.logout, "id", "logout-btn"),
		)
	}
	return h("div", "app",
		h("header", "topbar",
			app.Raw(`<a class="brand" href="/"><img src="/web/icon.svg" alt="" width="28" height="28"><span>Tether</span></a>`),
			ha("nav", "nav", []string{"aria-label", "Pages"}, links...),
			h("div", "topbar-right", &StatusPill{s: sh.s}, me),
		),
		when(sh.newVersion, h("div", "update-banner",
			ht("span", "", "A new version of Tether is ready."),
			button("btn btn-sm btn-primary", "Reload", sh.reload, "id", "update-reload"),
		)),
		h("main", "content", sh.page(st)),
		&ToastStack{s: sh.s},
	)
}

func (sh *Shell) logout(ctx app.Context, e app.Event) {
	ctx.LocalStorage().Del(nickKey)
	sh.s.SignOut()
}

// page returns the component of the current page; pages that need a
// connection ask for a nickname first.
func (sh *Shell) page(st Status) app.UI {
	if sh.Page == PathAdmin {
		return &AdminPage{}
	}
	if !st.LoggedIn {
		return &LoginCard{s: sh.s}
	}
	switch sh.Page {
	case PathNotifications:
		return &NotificationsPage{s: sh.s}
	case PathTicker:
		return &TickerPage{s: sh.s}
	case PathDanmaku:
		return &DanmakuPage{s: sh.s}
	}
	return &ChatPage{s: sh.s}
}

// StatusPill shows the connection state, with a live countdown while
// waiting to reconnect.
type StatusPill struct {
	app.Compo

	s      *Session
	online bool
	stop   func()
	cancel context.CancelFunc
}

// OnMount follows the session state and, four times a second, the clock
// (for the countdown) and the browser's navigator.onLine.
func (p *StatusPill) OnMount(ctx app.Context) {
	p.online = navigatorOnline()
	p.stop = p.s.watch(topicState, redraw(ctx))
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
	return ha("div", "status status-"+class, []string{"id", "status", "aria-live", "polite"},
		ha("span", "status-dot", []string{"aria-hidden", "true"}),
		ht("span", "status-text", text),
		action,
	)
}

func (p *StatusPill) retry(app.Context, app.Event) { p.s.Reconnect() }

func (p *StatusPill) relogin(app.Context, app.Event) { p.s.Relogin() }

// navigatorOnline reads navigator.onLine (true outside a browser).
func navigatorOnline() bool {
	if !app.IsClient {
		return true
	}
	v := app.Window().Get("navigator").Get("onLine")
	return v.Type() != app.TypeBoolean || v.Bool()
}

// ToastStack shows the session's toasts in a corner of every page.
type ToastStack struct {
	app.Compo

	s    *Session
	stop func()
}

// OnMount follows the toasts.
func (t *ToastStack) OnMount(ctx app.Context) {
	t.stop = t.s.watch(topicToasts, redraw(ctx))
}

// OnDismount stops following the toasts.
func (t *ToastStack) OnDismount() { t.stop() }

// Render draws the toasts, newest at the bottom.
func (t *ToastStack) Render() app.UI {
	toasts := t.s.Toasts()
	items := make([]app.UI, 0, len(toasts))
	for _, n := range toasts {
		items = append(items, ha("div", "toast toast-"+n.Level, []string{"role", "status", "data-level", n.Level},
			ht("span", "toast-icon", levelIcon(n.Level), "aria-hidden", "true"),
			h("div", "toast-body",
				ht("strong", "toast-title", n.Title),
				when(n.Body != "", ht("p", "toast-text", n.Body)),
			),
			button("toast-close", "×", t.dismiss, "data-id", strconv.Itoa(n.ID), "aria-label", "Dismiss"),
		))
	}
	return ha("div", "toasts", []string{"id", "toasts", "aria-live", "polite"}, items...)
}

func (t *ToastStack) dismiss(ctx app.Context, e app.Event) {
	if id, err := strconv.Atoi(ctx.JSSrc().Get("dataset").Get("id").String()); err == nil {
		t.s.DismissToast(id)
	}
}

// LoginCard asks for a nickname.
type LoginCard struct {
	app.Compo

	s    *Session
	err  string
	stop func()
}

// OnMount follows the sign-in.
func (l *LoginCard) OnMount(ctx app.Context) {
	l.stop = l.s.watch(topicState, redraw(ctx))
}

// OnDismount stops following the sign-in.
func (l *LoginCard) OnDismount() { l.stop() }

// loginIntro is the sign-in card's static top.
const loginIntro = `<div class="login-intro"><img class="login-logo" src="/web/icon.svg" alt="" width="56" height="56"><h1>Welcome to Tether</h1><p class="muted">Real-time chat, notifications, a live ticker and danmaku — over one WebSocket, in Go. Pick a nickname to join.</p></div>`

// Render draws the sign-in card.
func (l *LoginCard) Render() app.UI {
	if app.IsServer {
		// The server-rendered page is replaced when the wasm starts: a form
		// here would swallow what is typed before that (or submit itself
		// natively). Its controls appear with the live app.
		return h("div", "login-wrap", h("div", "card login-card", app.Raw(loginIntro),
			app.Raw(`<div class="login-form skeleton" aria-hidden="true"><div class="input"></div><div class="btn btn-primary">Join</div></div>`)))
	}
	st := l.s.Status()
	msg, label := orDefault(l.err, st.Problem), "Join"
	if st.SigningIn {
		label = "Joining…"
	}
	return h("div", "login-wrap",
		h("div", "card login-card",
			app.Raw(loginIntro),
			form("login-form", "login-form", l.submit,
				srLabel("login-name", "Nickname"),
				input("login-name", "text", "input", "Your nickname",
					"maxlength", strconv.Itoa(maxNickLen), "autofocus", "true", "name", "nickname"),
				submit("login-btn", "btn btn-primary", label, st.SigningIn),
			),
			when(msg != "", ht("p", "form-error", msg, "id", "login-error")),
			app.Raw(`<p class="hint">No password: a guest login. The server gives you a user id and an HttpOnly cookie for the WebSocket.</p>`),
		),
	)
}

func (l *LoginCard) submit(ctx app.Context, e app.Event) {
	e.PreventDefault()
	nick := cleanNick(inputValue("login-name"))
	if nick == "" {
		l.err = "Type a nickname first."
		return
	}
	l.err = ""
	_ = ctx.LocalStorage().Set(nickKey, nick)
	page := app.Window().URL()
	go l.s.SignIn(context.Background(), nick, page, false)
}

// inputValue reads the current value of the input element with id.
func inputValue(id string) string {
	el := app.Window().GetElementByID(id)
	if !el.Truthy() {
		return ""
	}
	return el.Get("value").String()
}

// setInputValue sets the value of the input element with id.
func setInputValue(id, v string) {
	if el := app.Window().GetElementByID(id); el.Truthy() {
		el.Set("value", v)
	}
}

// cls joins the non-empty class names.
func cls(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		if n == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
	}
	return b.String()
}

// on returns name when cond holds.
func on(cond bool, name string) string {
	if cond {
		return name
	}
	return ""
}

// levelIcon is the symbol of a notification level.
func levelIcon(level string) string {
	switch level {
	case "success":
		return "✓"
	case "warning":
		return "!"
	case "error":
		return "✕"
	}
	return "i"
}
