package goapp

import (
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// A page that starts with a sign-in form and replaces it by a board: the
// form watches the value first, then is gone; the board watches it after.
//
// go-app calls OnMount in a browser only; natively (these tests) it calls
// OnPreRender when it mounts a component, with the same kind of context, so
// the components here watch from both.

type tally map[string]int

type form struct {
	app.Compo
	v    *Value[tally]
	seen int // how many times fn ran
}

func (f *form) OnMount(ctx app.Context)     { f.v.Watch(ctx, func(tally) { f.seen++ }) }
func (f *form) OnPreRender(ctx app.Context) { f.OnMount(ctx) }
func (f *form) Render() app.UI              { return app.Form() }

type board struct {
	app.Compo
	v     *Value[tally]
	shown tally
}

func (b *board) OnMount(ctx app.Context)     { b.v.Watch(ctx, func(t tally) { b.shown = t }) }
func (b *board) OnPreRender(ctx app.Context) { b.OnMount(ctx) }
func (b *board) Render() app.UI {
	return app.Div().Text(b.shown["yes"])
}

type page struct {
	app.Compo
	signedIn bool
	f        *form
	b        *board
	ctx      app.Context
}

func (p *page) OnPreRender(ctx app.Context) { p.ctx = ctx }

func (p *page) Render() app.UI {
	if p.signedIn {
		return app.Div().Body(p.b)
	}
	return app.Div().Body(p.f)
}

func vote(t tally, choice string) tally {
	n := make(tally, len(t)+1)
	for k, c := range t {
		n[k] = c
	}
	n[choice]++
	return n
}

func (v *Value[T]) watching() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.watchers)
}

// TestNoUpdateLostAfterTheStarterIsGone: values set while the form is
// gone and before the board exists reach the board; the form's watcher is
// dropped, and a remount does not double the board's.
func TestNoUpdateLostAfterTheStarterIsGone(t *testing.T) {
	v := &Value[tally]{}
	p := &page{}
	p.f = &form{v: v}
	p.b = &board{v: v}
	e := app.NewTestEngine()
	if err := e.Load(p); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	if p.f.seen != 1 {
		t.Fatalf("the form saw the value %d times on mount, want 1", p.f.seen)
	}

	// Sign in: the form goes away. Votes arrive (from the client's
	// goroutine) before the board is on the page.
	v.Update(func(t tally) tally { return vote(t, "no") })
	p.ctx.Dispatch(func(app.Context) { p.signedIn = true })
	v.Update(func(t tally) tally { return vote(t, "yes") })
	v.Update(func(t tally) tally { return vote(t, "yes") })
	e.ConsumeAll()
	if p.b.shown["yes"] != 2 || p.b.shown["no"] != 1 {
		t.Fatalf("the board shows %v, want 2 yes and 1 no", p.b.shown)
	}
	if err := app.Match(app.Text(2), p.b, 0, 0); err != nil {
		t.Errorf("the board renders: %v", err)
	}

	// Many sets in a row are merged: the board shows the latest.
	for range 50 {
		v.Update(func(t tally) tally { return vote(t, "yes") })
	}
	e.ConsumeAll()
	if p.b.shown["yes"] != 52 {
		t.Fatalf("the board shows %d yes votes after 50 more, want 52", p.b.shown["yes"])
	}
	if n := v.watching(); n != 1 {
		t.Errorf("%d watchers after the form was dismounted, want 1 (the board)", n)
	}
	if p.f.seen > 2 {
		t.Errorf("the dismounted form's function ran %d times, want at most 2", p.f.seen)
	}
}

// TestMountedLaterGetsTheCurrentValue: a component that mounts after the
// last change still shows it at once.
func TestMountedLaterGetsTheCurrentValue(t *testing.T) {
	v := &Value[tally]{}
	v.Set(tally{"yes": 7})
	b := &board{v: v}
	e := app.NewTestEngine()
	if err := e.Load(b); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	if b.shown["yes"] != 7 {
		t.Fatalf("a board mounted after the change shows %v, want 7 yes", b.shown)
	}
	if got := v.Get()["yes"]; got != 7 {
		t.Errorf("Get = %d, want 7", got)
	}
}
