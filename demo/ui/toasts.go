package ui

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Limits of the toasts.
const (
	maxToasts      = 5                // visible at once
	toastLife      = 6 * time.Second  // before a toast goes away by itself
	errorToastLife = 10 * time.Second // error toasts stay longer
)

// Toast is a notification on screen.
type Toast struct {
	ID    int
	Title string
	Body  string
	Level string // info, success, warning, error
	Life  time.Duration
}

// toastStore holds the toasts on screen.
type toastStore struct {
	changes

	mu     sync.Mutex
	toasts []Toast
	next   int
}

// show shows a toast that goes away by itself.
func (ts *toastStore) show(title, body, level string) {
	life := toastLife
	if level == "error" {
		life = errorToastLife
	}
	ts.mu.Lock()
	ts.next++
	id := ts.next
	ts.toasts = append(ts.toasts, Toast{ID: id, Title: title, Body: body, Level: level, Life: life})
	if len(ts.toasts) > maxToasts {
		ts.toasts = slices.Clone(ts.toasts[len(ts.toasts)-maxToasts:])
	}
	ts.mu.Unlock()
	time.AfterFunc(life, func() { ts.dismiss(id) })
	ts.changed()
}

// dismiss removes toast id from the screen.
func (ts *toastStore) dismiss(id int) {
	ts.mu.Lock()
	n := len(ts.toasts)
	ts.toasts = slices.DeleteFunc(ts.toasts, func(t Toast) bool { return t.ID == id })
	changed := len(ts.toasts) != n
	ts.mu.Unlock()
	if changed {
		ts.changed()
	}
}

// list returns the toasts on screen, oldest first.
func (ts *toastStore) list() []Toast {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.toasts)
}

// Toasts returns the toasts on screen, oldest first.
func (s *Session) Toasts() []Toast { return s.toasts.list() }

// DismissToast removes toast id from the screen.
func (s *Session) DismissToast(id int) { s.toasts.dismiss(id) }

// ToastStack shows the session's toasts in a corner of every page.
type ToastStack struct {
	app.Compo

	s    *Session
	stop func()
}

// OnMount follows the toasts.
func (t *ToastStack) OnMount(ctx app.Context) {
	t.stop = t.s.toasts.watch(redraw(ctx))
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
