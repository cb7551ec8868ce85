package ui

import (
	"context"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LoginCard asks for a nickname.
type LoginCard struct {
	app.Compo

	s    *Session
	err  string
	stop func()
}

// OnMount follows the sign-in, and builds the message registry the
// login will need while the name is being typed rather than after the
// click.
func (l *LoginCard) OnMount(ctx app.Context) {
	l.stop = l.s.status.watch(redraw(ctx))
	ctx.Async(func() { l.s.registry() })
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
