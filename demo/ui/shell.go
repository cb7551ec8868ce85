package ui

import (
	"context"
	"strings"

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

// OnInit connects with the login this browser saved (Session.Resume)
// before go-app first renders the page: the first render is then the
// signed-in page, and the WebSocket handshake travels while it is drawn.
func (sh *Shell) OnInit() {
	if app.IsClient {
		sh.s.Resume(app.Window().URL())
	}
}

// OnMount marks the page ready and, when OnInit could not resume, signs in
// again with the stored nickname.
func (sh *Shell) OnMount(ctx app.Context) {
	// The server-rendered page looks like the app but is replaced when the
	// wasm starts; browser tests wait for body[data-ready] before touching
	// anything.
	app.Window().Get("document").Get("body").Call("setAttribute", "data-ready", "true")
	// Browsers check for a new service worker (a new build) on their own
	// schedule; ask now, and whenever the connection comes back, as a
	// restarted server may serve a new build.
	app.TryUpdate()
	sh.s.linkTabs()
	sh.s.where.at(sh.Page)
	wasDown := false
	sh.stop = sh.s.status.watch(func(struct{}) {
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

// OnNav tells the who-is-where board the page changed.
func (sh *Shell) OnNav(ctx app.Context) { sh.s.where.at(sh.Page) }

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
			icon("nav-icon", p.icon),
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
	// No status pill before anyone signed in: "offline" would be a state
	// of a connection nobody asked for yet.
	var pill app.UI
	if st.LoggedIn || st.SigningIn {
		pill = &StatusPill{s: sh.s}
	}
	return h("div", cls("app", pageClass(sh.Page, st)),
		h("header", "topbar",
			app.Raw(`<a class="brand" href="/"><img src="/web/icon.svg" alt="" width="28" height="28"><span>Tether</span></a>`),
			ha("nav", "nav", []string{"aria-label", "Pages"}, links...),
			h("div", "topbar-right", pill, me),
		),
		when(sh.newVersion, h("div", "update-banner",
			ht("span", "", "A new version of Tether is ready."),
			button("btn btn-sm btn-primary", "Reload", sh.reload, "id", "update-reload"),
		)),
		sh.renderEnded(st),
		when(st.LoggedIn, &WhereBoard{s: sh.s}),
		h("main", "content", sh.page(st)),
		&ToastStack{s: sh.s},
	)
}

// renderEnded is the banner every page shows once the connection ended for
// good (kicked, refused, banned), with the way back.
func (sh *Shell) renderEnded(st Status) app.UI {
	why := sh.s.Ended()
	if why == "" || sh.Page == PathAdmin {
		return nil
	}
	return ha("div", "ended-banner", []string{"id", "ended", "role", "alert"},
		ht("span", "", why),
		ht("span", "muted small", "Nothing is sent or received until you reconnect."),
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
		return &AdminPage{s: sh.s}
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

// pageClass names the page on screen for the style sheet ("on-chat"), which
// places the toasts where they hide no control of that page.
func pageClass(path string, st Status) string {
	switch {
	case path == PathAdmin:
		return "on-admin"
	case !st.LoggedIn:
		return "on-login"
	case path == PathChat || path == "":
		return "on-chat"
	}
	return "on-" + strings.TrimPrefix(path, "/")
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
