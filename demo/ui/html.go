package ui

import (
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// The app builds its HTML with these few helpers rather than go-app's
// per-tag builders (app.Div().Class(…).ID(…)…). Every element is an
// app.Elem, so the wasm bundle carries one element type instead of one per
// tag, and an element is one call with its attributes as data instead of a
// chain of interface calls: together that keeps the bundle hundreds of
// kilobytes smaller (see `make size`).

// h is an element with a class and children.
//
//go:noinline
func h(tag, class string, kids ...app.UI) app.UI {
	return elem(tag, class, nil, kids)
}

// ha is h with attributes, given as name, value pairs.
//
//go:noinline
func ha(tag, class string, attrs []string, kids ...app.UI) app.UI {
	return elem(tag, class, attrs, kids)
}

// ht is an element holding text, with optional attribute pairs.
//
//go:noinline
func ht(tag, class, text string, attrs ...string) app.UI {
	return elem(tag, class, attrs, []app.UI{app.Text(text)})
}

func elem(tag, class string, attrs []string, kids []app.UI) app.HTMLElem {
	e := app.Elem(tag)
	if class != "" {
		e.Class(class)
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attr(attrs[i], attrs[i+1])
	}
	if len(kids) > 0 {
		e.Body(kids...)
	}
	return e
}

// when is ui if cond holds, else nothing (go-app drops nil children).
func when(cond bool, ui app.UI) app.UI {
	if cond {
		return ui
	}
	return nil
}

// button is a <button type="button"> with attribute pairs.
func button(class, text string, onClick app.EventHandler, attrs ...string) app.UI {
	return elem("button", class, append(attrs, "type", "button"), []app.UI{app.Text(text)}).OnClick(onClick)
}

// submit is a form's submit button.
func submit(id, class, text string, disabled bool) app.UI {
	attrs := []string{"type", "submit", "id", id}
	if disabled {
		// Only ever set: a server-rendered disabled="false" would still
		// disable the button.
		attrs = append(attrs, "disabled", "true")
	}
	return elem("button", class, attrs, []app.UI{app.Text(text)})
}

// form is a <form> that calls onSubmit (which must call PreventDefault).
func form(id, class string, onSubmit app.EventHandler, kids ...app.UI) app.UI {
	return elem("form", class, []string{"id", id}, kids).OnSubmit(onSubmit)
}

// input is an <input> of type typ with attribute pairs.
func input(id, typ, class, placeholder string, attrs ...string) app.HTMLElemSelfClosing {
	e := app.ElemSelfClosing("input").Class(class)
	attrs = append(attrs, "id", id, "type", typ, "placeholder", placeholder, "autocomplete", "off")
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attr(attrs[i], attrs[i+1])
	}
	return e
}

// flag is the attribute pair that sets a boolean attribute when cond holds.
func flag(name string, cond bool) []string {
	if cond {
		return []string{name, "true"}
	}
	return nil
}

// srLabel is a label for screen readers only.
func srLabel(forID, text string) app.UI {
	return ht("label", "sr-only", text, "for", forID)
}

// avatar is a round initial in the user's colour.
func avatar(user, name, class string) app.UI {
	return ht("span", cls("avatar", class, hueClass(user)), initial(orDefault(name, user)), "aria-hidden", "true")
}

// count is a small number badge after a title.
func count(n int) app.UI {
	return ht("span", "count", strconv.Itoa(n))
}

// empty is the placeholder text of an empty list.
func empty(text string) app.UI {
	return ht("p", "empty", text)
}

// pageHead is a page's title and subtitle.
func pageHead(title app.UI, sub ...app.UI) app.UI {
	return h("div", "page-head", title, h("p", "muted", sub...))
}

// field is a labelled form control.
func field(id, label string, control app.UI) app.UI {
	return h("div", "field", ht("label", "", label, "for", id), control)
}

// thead is a table head; cols are label, class pairs.
func thead(cols ...string) app.UI {
	cells := make([]app.UI, 0, len(cols)/2)
	for i := 0; i+1 < len(cols); i += 2 {
		cells = append(cells, ht("th", cols[i+1], cols[i]))
	}
	return h("thead", "", h("tr", "", cells...))
}

// liveDot is the pulsing dot of a live feed.
func liveDot(on bool) app.UI {
	class := "live-dot"
	if on {
		class += " on"
	}
	return ha("span", class, []string{"aria-hidden", "true"})
}

// update runs fn (which may be nil) on the UI goroutine and re-renders the
// component of ctx. It is ctx.Dispatch kept out of line: inlined, Dispatch
// copies its closure into every caller.
//
//go:noinline
func update(ctx app.Context, fn func(app.Context)) { ctx.Dispatch(fn) }

// redraw is a store watcher that re-renders the component of ctx.
func redraw(ctx app.Context) func(struct{}) {
	return func(struct{}) { update(ctx, nil) }
}
