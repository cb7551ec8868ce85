package ui

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/demo/msg"
)

// ChatPage is the chat: room list, messages of the current room, members
// and the composer.
type ChatPage struct {
	app.Compo

	s       *Session
	stop    func()
	cancel  context.CancelFunc
	queue   chan shared.Message // chat lines and dice rolls, sent in order
	pin     scrollPin           // keeps the messages at their end
	sendErr string
	roomErr string
}

// OnMount follows the chat and starts the sender, which sends the typed
// messages one at a time so they arrive in the order they were typed.
func (c *ChatPage) OnMount(ctx app.Context) {
	c.pin.start("chat-messages")
	c.stop = watchAll(func() {
		update(ctx, func(ctx app.Context) {
			if c.pin.atEnd() {
				ctx.Defer(c.pin.toEnd)
			}
		})
	}, &c.s.chat.changes, &c.s.rooms.changes, &c.s.status, &c.s.pending.changes)
	sctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.queue = make(chan shared.Message, 64)
	go func() {
		for {
			select {
			case <-sctx.Done():
				return
			case m := <-c.queue:
				if problem := c.s.Send(sctx, m); problem != "" && sctx.Err() == nil {
					update(ctx, func(app.Context) {
						c.sendErr = problem
						if cs, ok := m.(msg.ChatSend); ok {
							restoreInput("chat-input", cs.Text)
						}
					})
				}
			}
		}
	}()
	ctx.Defer(c.pin.toEnd)
}

// OnDismount stops following the chat and the sender.
func (c *ChatPage) OnDismount() {
	c.stop()
	c.pin.stop()
	c.cancel()
}

// Render draws the chat.
func (c *ChatPage) Render() app.UI {
	v := c.s.Chat()
	me := c.s.Status().User
	var failed, sendErr app.UI
	ended := c.s.Ended() != ""
	if v.Failed != "" && !ended { // the banner says why already

		failed = ht("div", "alert alert-error", "Could not join #"+v.Current+": "+v.Failed, "id", "chat-error")
	}
	if c.sendErr != "" {
		sendErr = ha("div", "alert alert-error", []string{"id", "chat-error"},
			ht("span", "", c.sendErr),
			button("alert-close", "×", c.clearErr, "aria-label", "Dismiss"),
		)
	}
	noRoom := v.Current == "" || ended
	if ended {
		v.Members = nil // nobody is known to be online without a connection
	}
	return h("div", "chat",
		c.renderRooms(v),
		h("section", "panel chat-main",
			// The notices and alerts that come and go sit in wrappers that
			// are always there: go-app matches children by position, and a
			// composer that moved would be replaced, losing what is typed.
			c.renderHeader(v),
			h("div", "chat-notices",
				when(v.Notice != "", ht("div", "notice", v.Notice)),
				failed,
			),
			renderMessages(v, c.s.zone, ended),
			ha("div", "typing", []string{"id", "chat-typing", "aria-live", "polite"}, app.Text(v.Typing)),
			h("div", "chat-notices",
				when(!ended && v.Current != "" && !v.Connected, ht("div", "notice",
					"You are offline. Messages you send now are kept and go out when the connection is back.", "id", "chat-offline")),
				sendErr,
			),
			form("chat-form", "composer", c.send,
				srLabel("chat-input", "Message"),
				input("chat-input", "text", "input", composerHint(v, ended), flag("disabled", noRoom)...).OnInput(c.typing),
				submit("chat-send", "btn btn-primary", "Send", noRoom),
				diceButton(noRoom, c.roll),
			),
		),
		renderMembers(v, me),
	)
}

func (c *ChatPage) clearErr(app.Context, app.Event) { c.sendErr = "" }

func composerHint(v ChatView, ended bool) string {
	switch {
	case ended:
		return "Disconnected: reconnect to chat"
	case v.Current == "":
		return "Join a room to chat"
	case !v.Connected:
		return "Offline: will be sent when back online"
	case !v.Ready:
		return "Joining #" + v.Current + "…"
	}
	return "Message #" + v.Current
}

func (c *ChatPage) renderRooms(v ChatView) app.UI {
	items := make([]app.UI, 0, len(v.Rooms))
	for _, r := range v.Rooms {
		var badge, leave app.UI
		switch {
		case r.Unread > 0:
			badge = ht("span", "badge", strconv.Itoa(min(r.Unread, 99)))
		case !r.Joined:
			badge = ht("span", "room-join", "join")
		}
		if r.Joined {
			leave = button("room-leave", "×", c.leave, "data-room", r.Name, "title", "Leave #"+r.Name, "aria-label", "Leave #"+r.Name)
		}
		items = append(items, ha("li", cls("room", on(r.Current, "active"), on(r.Joined, "joined")), []string{"data-room", r.Name},
			elem("button", "room-btn", []string{"type", "button", "data-room", r.Name}, []app.UI{
				ht("span", "room-hash", "#"),
				ht("span", "room-name", r.Name),
				badge,
			}).OnClick(c.selectRoom),
			leave,
		))
	}
	return h("aside", "panel rooms",
		app.Raw(`<h2 class="panel-title">Rooms</h2>`),
		ha("ul", "room-list", []string{"id", "room-list"}, items...),
		form("", "room-create", c.createRoom,
			srLabel("room-new", "New room"),
			input("room-new", "text", "input input-sm", "new-room", "maxlength", strconv.Itoa(shared.MaxRoomLen)),
			submit("room-create", "btn btn-sm", "Create", false),
		),
		when(c.roomErr != "", ht("p", "form-error", c.roomErr)),
	)
}

// selectRoom opens the room named by the clicked element's data-room.
func (c *ChatPage) selectRoom(ctx app.Context, e app.Event) {
	if name := dataOf(ctx, "room"); name != "" {
		c.s.SelectRoom(name)
	}
}

// leave leaves the room named by the clicked element's data-room.
func (c *ChatPage) leave(ctx app.Context, e app.Event) {
	if name := dataOf(ctx, "room"); name != "" {
		c.s.LeaveRoom(name)
	}
}

// dataOf reads a data- attribute of the element an event came from.
func dataOf(ctx app.Context, key string) string {
	v := ctx.JSSrc().Get("dataset").Get(key)
	if v.Type() != app.TypeString {
		return ""
	}
	return v.String()
}

func (c *ChatPage) renderHeader(v ChatView) app.UI {
	if v.Current == "" {
		return h("header", "chat-header", ht("h2", "", "No room"))
	}
	sub := "joining…"
	switch {
	case c.s.Ended() != "":
		sub = "disconnected"
	case !v.Connected:
		sub = "waiting for the connection…"
	case v.Ready:
		sub = plural(len(v.Members), "member") + " online"
	}
	return h("header", "chat-header",
		h("div", "",
			ha("h2", "", []string{"id", "chat-room"}, ht("span", "room-hash", "#"), app.Text(v.Current)),
			ht("span", "muted small", sub),
		),
		button("btn btn-ghost btn-sm", "Leave", c.leave, "id", "chat-leave", "data-room", v.Current),
	)
}

func renderMessages(v ChatView, zone *time.Location, ended bool) app.UI {
	box := []string{"id", "chat-messages"}
	if len(v.Lines) == 0 {
		text := "No messages yet — say hi!"
		if v.Current == "" {
			text = "Pick a room on the left."
		} else if ended {
			text = "Disconnected."
		} else if !v.Ready {
			text = "Joining #" + v.Current + "…"
		}
		return ha("div", "messages", box, ht("div", "empty", text))
	}
	dup := sharedNames(v)
	items := make([]app.UI, 0, len(v.Lines))
	for i, l := range v.Lines {
		cont := i > 0 && v.Lines[i-1].User == l.User && l.Time-v.Lines[i-1].Time < 5*60*1000
		name := orDefault(l.Name, l.User)
		text := ht("div", "chat-text", l.Text)
		if l.Dice {
			text = h("div", "chat-text chat-dice", icon("dice-icon", iconDice), app.Text(l.Text))
		}
		stamp := ht("span", "chat-time", clock(l.Time, zone))
		switch {
		case l.Failed != "":
			stamp = ht("span", "chat-time chat-failed", "not sent: "+l.Failed)
		case l.Pending && !v.Connected:
			stamp = ht("span", "chat-time chat-pending", "waiting for the connection")
		case l.Pending:
			stamp = ht("span", "chat-time chat-pending", "sending…")
		}
		items = append(items, ha("div", cls("chat-msg", on(l.Mine, "mine"), on(cont, "cont"), on(l.Pending, "pending"), on(l.Failed != "", "failed")),
			[]string{"data-seq", strconv.FormatUint(l.Seq, 10), "data-user", l.User},
			avatar(l.User, name, ""),
			h("div", "bubble",
				h("div", "chat-meta",
					ht("span", "chat-name", name, "title", "@"+l.User),
					when(dup[name], ht("span", "chat-id", "@"+l.User)),
					stamp,
				),
				text,
			),
		))
	}
	return ha("div", "messages", box, items...)
}

// sharedNames returns the display names that more than one user of the
// room goes by (among its members and the authors on screen): those are
// shown with the user id, so that two "Sam"s can be told apart.
func sharedNames(v ChatView) map[string]bool {
	users := make(map[string]string) // name → a user id with it
	out := make(map[string]bool)
	see := func(user, name string) {
		name = orDefault(name, user)
		switch u, ok := users[name]; {
		case !ok:
			users[name] = user
		case u != user:
			out[name] = true
		}
	}
	for _, m := range v.Members {
		see(m.User, m.Name)
	}
	for _, l := range v.Lines {
		see(l.User, l.Name)
	}
	return out
}

func renderMembers(v ChatView, me string) app.UI {
	dup := sharedNames(ChatView{Members: v.Members})
	items := make([]app.UI, 0, len(v.Members))
	for _, m := range v.Members {
		name := orDefault(m.Name, m.User)
		// The id only when it tells this member from another of the same
		// name: otherwise it would take the room a long name needs.
		items = append(items, ha("li", "member", []string{"data-user", m.User, "title", name + " (@" + m.User + ")"},
			avatar(m.User, name, "avatar-sm"),
			h("div", "member-text",
				ht("span", "member-name", name),
				when(dup[name], ht("span", "member-id muted", "@"+m.User)),
			),
			when(m.User == me, ht("span", "tag", "you")),
		))
	}
	return ha("aside", "panel members", []string{"id", "members"},
		h("h2", "panel-title", app.Text("Online"), count(len(v.Members))),
		when(len(items) == 0, ht("p", "muted small", "Nobody here yet.")),
		h("ul", "member-list", items...),
	)
}

// send queues the composer's text.
func (c *ChatPage) send(ctx app.Context, e app.Event) {
	e.PreventDefault()
	text := strings.TrimSpace(inputValue("chat-input"))
	room := c.s.Chat().Current
	if room == "" {
		return
	}
	if text == "" {
		c.sendErr = emptyMessage
		return
	}
	if msg := tooLong("A message", text, msg.MaxTextLen); msg != "" {
		c.sendErr = msg // the text stays in the input, to be shortened
		return
	}
	if msg := c.s.SendChat(room, text); msg != "" {
		c.sendErr = msg
		return
	}
	setInputValue("chat-input", "")
	c.sendErr = ""
	ctx.Defer(c.pin.toEnd)
}

// typing tells the room, now and then, that the user is typing.
func (c *ChatPage) typing(ctx app.Context, e app.Event) {
	if strings.TrimSpace(inputValue("chat-input")) != "" {
		if c.sendErr == emptyMessage {
			c.sendErr = ""
		}
		c.s.Typing(c.s.Chat().Current)
	}
}

// emptyMessage answers a click on Send with nothing typed.
const emptyMessage = "Type a message first."

// createRoom creates and enters the room typed in the list's form.
func (c *ChatPage) createRoom(ctx app.Context, e app.Event) {
	e.PreventDefault()
	name := strings.TrimSpace(inputValue("room-new"))
	if name == "" {
		return
	}
	if err := c.s.CreateRoom(name); err != nil {
		c.roomErr = "Room names are printable ASCII without spaces, up to 128 characters."
		return
	}
	c.roomErr = ""
	setInputValue("room-new", "")
}

// tooLong is the sentence shown when text has more than limit characters
// (what the server counts), or "".
func tooLong(what, text string, limit int) string {
	n := utf8.RuneCountInString(text)
	if n <= limit {
		return ""
	}
	return what + " can be at most " + strconv.Itoa(limit) + " characters; this one has " + strconv.Itoa(n) + "."
}

// restoreInput puts text back into the input with id after the server
// refused it, unless something new was typed meanwhile.
func restoreInput(id, text string) {
	if inputValue(id) == "" {
		setInputValue(id, text)
	}
}
