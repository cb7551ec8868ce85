package ui

import (
	"context"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// Danmaku stage settings. The server picks a comment's lane; the stage shows
// danmakuLanes of them (the demo server's number).
const (
	DefaultStage   = "stage"
	danmakuLanes   = 8
	danmakuSeconds = 9 // time to cross the stage
)

// danmakuFeed is the danmaku feature: comments as they arrive, to the
// stage that watches them (a comment flies once and is not kept).
type danmakuFeed struct {
	observable[msg.DanmakuComment]
	noReset
}

// wire implements feature.
func (f *danmakuFeed) wire(l login) { handle(l, f.publish) }

// danmakuColors are the colour picker's presets.
func danmakuColors() []string {
	return []string{"#ffffff", "#ffd166", "#ef476f", "#06d6a0", "#4cc9f0", "#b388ff"}
}

// DanmakuPage is a stage where comments ("bullet comments") fly from right
// to left, each in the lane the server gave it.
type DanmakuPage struct {
	app.Compo

	s      *Session
	room   string
	color  string
	stop   func()
	cancel context.CancelFunc
	queue  chan msg.DanmakuSend
	err    string
	done   app.Func // removes a comment when its flight ends
}

// OnMount joins the stage's room and starts the sender.
func (d *DanmakuPage) OnMount(ctx app.Context) {
	if d.room == "" {
		d.room = DefaultStage
	}
	if d.color == "" {
		d.color = danmakuColors()[0]
	}
	d.s.rooms.acquire(d.room, forDanmaku)
	d.stop = d.s.danmaku.watch(func(c msg.DanmakuComment) {
		update(ctx, func(app.Context) {
			if c.Room == d.room {
				d.fly(c)
			}
		})
	})
	stopRooms := watchAll(func() { update(ctx, nil) }, &d.s.rooms.changes, &d.s.status) // members, join and connection state
	d.done = app.FuncOf(func(this app.Value, _ []app.Value) any {
		this.Call("remove")
		return nil
	})
	sctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.queue = make(chan msg.DanmakuSend, 32)
	go func() {
		defer stopRooms()
		for {
			select {
			case <-sctx.Done():
				return
			case m := <-d.queue:
				if msg := d.s.Send(sctx, m); msg != "" && sctx.Err() == nil {
					update(ctx, func(app.Context) {
						d.err = msg
						restoreInput("danmaku-input", m.Text)
					})
				}
			}
		}
	}()
}

// OnDismount leaves the room and stops the sender.
func (d *DanmakuPage) OnDismount() {
	d.stop()
	d.cancel()
	d.s.rooms.release(d.room, forDanmaku)
	d.done.Release()
}

// fly adds a comment to the stage. The stage's children are managed here,
// not by go-app: each one removes itself when its animation ends.
func (d *DanmakuPage) fly(c msg.DanmakuComment) {
	stage := app.Window().GetElementByID("danmaku-stage")
	if !stage.Truthy() {
		return
	}
	doc := app.Window().Get("document")
	el := doc.Call("createElement", "div")
	el.Set("className", "danmaku-item")
	el.Set("textContent", c.Text) // text, never HTML
	el.Set("title", orDefault(c.Name, c.User))
	lane := c.Lane % danmakuLanes
	if lane < 0 {
		lane = 0
	}
	// Custom properties for the CSS animation, and the colour, checked so
	// that a comment cannot inject other styles. Through the CSSOM, which
	// the page's Content-Security-Policy allows (a style attribute it
	// refuses).
	style := el.Get("style")
	style.Call("setProperty", "--lane", strconv.Itoa(lane))
	style.Call("setProperty", "--stage-w", strconv.Itoa(stage.Get("clientWidth").Int())+"px")
	style.Call("setProperty", "--fly", strconv.Itoa(danmakuSeconds)+"s")
	style.Call("setProperty", "color", safeColor(c.Color))
	el.Call("addEventListener", "animationend", d.done, map[string]any{"once": true})
	stage.Call("appendChild", el)
}

// Render draws the stage and the composer.
func (d *DanmakuPage) Render() app.UI {
	room := orDefault(d.room, DefaultStage)
	ready, failed := d.s.RoomState(room)
	swatches := make([]app.UI, 0, 6)
	for _, c := range danmakuColors() {
		swatches = append(swatches, button(cls("swatch", on(strings.EqualFold(c, d.color), "selected")), "", d.pick,
			"data-color", c, "title", c, "aria-label", "Colour "+c)) // coloured by web/app.css
	}
	sub := "Joining…"
	ended := d.s.Ended()
	switch {
	case ended != "":
		sub = ended
	case d.s.Status().Info.State != client.Open:
		sub = "Waiting for the connection…"
	case failed != "":
		sub = "Could not join: " + failed
	case ready:
		sub = plural(len(d.s.Members(room)), "viewer") + " on stage"
	}
	return h("div", "page",
		h("div", "page-head-row",
			pageHead(h("h1", "", app.Text("Danmaku "), ht("span", "room-chip", "#"+room)),
				liveDot(ready), ht("span", "", sub, "id", "danmaku-status")),
			form("", "inline-form", d.switchRoom,
				srLabel("danmaku-room", "Room"),
				input("danmaku-room", "text", "input input-sm", "another room", "maxlength", strconv.Itoa(shared.MaxRoomLen)),
				submit("", "btn btn-sm", "Switch", false),
			),
		),
		h("div", "stage-wrap",
			ha("div", "stage", []string{"id", "danmaku-stage"}), // --lanes: web/app.css
			app.Raw(`<div class="stage-hint">Comments fly across here — type one below</div>`),
		),
		form("danmaku-form", "danmaku-composer", d.send,
			srLabel("danmaku-input", "Comment"),
			input("danmaku-input", "text", "input", "Say something (up to "+strconv.Itoa(msg.MaxDanmakuLen)+" characters)",
				flag("disabled", ended != "")...),
			h("div", "swatches", swatches...),
			srLabel("danmaku-color", "Custom colour"),
			input("danmaku-color", "color", "color-input", "", "value", d.color).OnInput(d.pickCustom),
			submit("danmaku-send", "btn btn-primary", "Fire", ended != ""),
		),
		when(d.err != "", ht("div", "alert alert-error", d.err, "id", "danmaku-error")),
		app.Raw(`<p class="muted small">Everyone in the same room sees the same comments; the server gives each one a lane so that consecutive comments do not overlap.</p>`),
	)
}

// pick selects a preset colour.
func (d *DanmakuPage) pick(ctx app.Context, e app.Event) {
	if c := dataOf(ctx, "color"); validColor(c) {
		d.color = c
		setInputValue("danmaku-color", c)
	}
}

// pickCustom follows the colour input.
func (d *DanmakuPage) pickCustom(ctx app.Context, e app.Event) {
	if c := strings.ToLower(ctx.JSSrc().Get("value").String()); validColor(c) {
		d.color = c
	}
}

// send queues the typed comment.
func (d *DanmakuPage) send(ctx app.Context, e app.Event) {
	e.PreventDefault()
	text := strings.TrimSpace(inputValue("danmaku-input"))
	if text == "" {
		return
	}
	if msg := tooLong("A comment", text, msg.MaxDanmakuLen); msg != "" {
		d.err = msg // the text stays in the input, to be shortened
		return
	}
	if c := strings.ToLower(inputValue("danmaku-color")); validColor(c) {
		d.color = c
	}
	select {
	case d.queue <- msg.DanmakuSend{Room: orDefault(d.room, DefaultStage), Text: text, Color: d.color}:
		setInputValue("danmaku-input", "")
		d.err = ""
	default:
		d.err = "Too many comments waiting; slow down."
	}
}

// switchRoom moves to another stage.
func (d *DanmakuPage) switchRoom(ctx app.Context, e app.Event) {
	e.PreventDefault()
	name := strings.TrimSpace(inputValue("danmaku-room"))
	if name == "" || name == d.room {
		return
	}
	if err := shared.ValidRoom(name); err != nil {
		d.err = "Room names are printable ASCII without spaces."
		return
	}
	old := d.room
	d.room = name
	d.err = ""
	d.s.rooms.acquire(name, forDanmaku)
	d.s.rooms.release(old, forDanmaku)
	setInputValue("danmaku-room", "")
	if stage := app.Window().GetElementByID("danmaku-stage"); stage.Truthy() {
		stage.Set("textContent", "")
	}
}

// validColor reports whether c is "#rrggbb".
func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for i := 1; i < 7; i++ {
		ch := c[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			return false
		}
	}
	return true
}

// safeColor is c when it is a valid colour, else white.
func safeColor(c string) string {
	if validColor(c) {
		return c
	}
	return "#ffffff"
}
