package ui

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/demo/msg"
)

// maxNotifications is how many notifications the log keeps.
const maxNotifications = 100

// Note is a received notification in the log.
type Note struct {
	msg.Notification
	At time.Time
}

// noteStore is the notifications feature: the log of the notifications
// received, each also shown as a toast. The log outlives a login.
type noteStore struct {
	changes
	noReset

	toasts *toastStore

	mu    sync.Mutex
	notes []Note
}

// add logs n.
func (ns *noteStore) add(n msg.Notification) {
	ns.mu.Lock()
	ns.notes = append(ns.notes, Note{Notification: n, At: time.Now()})
	if len(ns.notes) > maxNotifications {
		ns.notes = slices.Clone(ns.notes[len(ns.notes)-maxNotifications:])
	}
	ns.mu.Unlock()
	ns.changed()
}

// newestFirst returns the log, newest first.
func (ns *noteStore) newestFirst() []Note {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	out := slices.Clone(ns.notes)
	slices.Reverse(out)
	return out
}

// clear empties the log.
func (ns *noteStore) clear() {
	ns.mu.Lock()
	ns.notes = nil
	ns.mu.Unlock()
	ns.changed()
}

// wire implements feature.
func (ns *noteStore) wire(l login) { handle(l, ns.onNotification) }

// onNotification logs a notification and shows it as a toast.
func (ns *noteStore) onNotification(n msg.Notification) {
	if n.Level == "" {
		n.Level = "info"
	}
	ns.add(n)
	ns.toasts.show(n.Title, n.Body, n.Level)
}

// Notes returns the notification log, newest first.
func (s *Session) Notes() []Note { return s.notes.newestFirst() }

// ClearNotes empties the notification log.
func (s *Session) ClearNotes() { s.notes.clear() }

// NotificationsPage shows the notifications received and lets the user push
// test ones through the HTTP API. The toasts themselves appear on every
// page (ToastStack).
type NotificationsPage struct {
	app.Compo

	s      *Session
	stop   func()
	result string
	busy   bool
}

// OnMount follows the notification log.
func (p *NotificationsPage) OnMount(ctx app.Context) {
	p.stop = p.s.notes.watch(redraw(ctx))
}

// OnDismount stops following the log.
func (p *NotificationsPage) OnDismount() { p.stop() }

// Render draws the page.
func (p *NotificationsPage) Render() app.UI {
	notes := p.s.Notes()
	busy := flag("disabled", p.busy)
	tries := make([]app.UI, 0, 5)
	for _, level := range []string{"info", "success", "warning", "error"} {
		tries = append(tries, button("btn btn-sm btn-level level-"+level, levelIcon(level)+"  "+level, p.pushToMe,
			append([]string{"data-level", level}, busy...)...))
	}
	tries = append(tries, elem("button", "btn btn-sm", append([]string{"id", "notify-all", "type", "button"}, busy...),
		[]app.UI{icon("btn-icon", iconMegaphon), app.Text("Everyone")}).OnClick(p.pushToAll))
	items := make([]app.UI, 0, len(notes))
	for _, n := range notes {
		items = append(items, h("li", "note note-"+n.Level,
			ht("span", "level-badge level-"+n.Level, n.Level),
			h("div", "note-body",
				ht("strong", "", n.Title),
				when(n.Body != "", ht("p", "muted", n.Body)),
			),
			ht("span", "note-time muted small", n.At.In(p.s.zone).Format("15:04:05")),
		))
	}
	var clear app.UI
	if len(notes) > 0 {
		clear = button("btn btn-ghost btn-sm", "Clear", p.clear, "id", "notify-clear")
	}
	return h("div", "page",
		app.Raw(`<div class="page-head"><h1>Notifications</h1><p class="muted">The backend pushes them with POST /api/push — to one user (all of their tabs) or to everyone. They pop up as toasts on every page.</p></div>`),
		h("div", "card",
			app.Raw(`<div><h2>Try it</h2><p class="muted small">Send a notification through the HTTP API, to yourself or to everyone:</p></div>`),
			h("div", "btn-row", tries...),
			when(p.result != "", ht("p", "result", p.result, "id", "notify-result")),
		),
		h("div", "card",
			h("div", "card-head", h("h2", "", app.Text("Received"), count(len(notes))), clear),
			when(len(items) == 0, empty("Nothing yet. Push one from the Admin page, with curl, or with the buttons above.")),
			ha("ul", "note-list", []string{"id", "notification-log"}, items...),
		),
	)
}

func (p *NotificationsPage) pushToMe(ctx app.Context, e app.Event) {
	p.push(ctx, map[string]any{"kind": "user", "id": p.s.Status().User}, orDefault(dataOf(ctx, "level"), "info"))
}

func (p *NotificationsPage) pushToAll(ctx app.Context, e app.Event) {
	p.push(ctx, map[string]any{"kind": "all"}, "info")
}

func (p *NotificationsPage) clear(app.Context, app.Event) { p.s.ClearNotes() }

// push sends a demo notification to target through POST /api/push.
func (p *NotificationsPage) push(ctx app.Context, target map[string]any, level string) {
	body := map[string]any{
		"target": target,
		"type":   "notification",
		"data": map[string]any{
			"title": "Hello from the HTTP API",
			"body":  "Level " + level + ", pushed with POST /api/push.",
			"level": level,
		},
	}
	key := p.s.apiKey.get()
	p.busy = true
	go func() {
		r := callAPI(context.Background(), "POST", "/api/push", key, body)
		update(ctx, func(app.Context) {
			p.busy = false
			if msg := r.Problem(); msg != "" {
				p.result = msg
				return
			}
			p.result = "Delivered to " + plural(deliveredCount(r.Body), "connection") + "."
		})
	}()
}
