package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// pinSlack is how close to its end, in CSS pixels, a scrolled box still
// counts as at the end.
const pinSlack = 80

// scrollPin keeps a scrolling box (the chat's messages) at its end while
// the reader is there, and leaves it alone once they scroll up to read.
//
// It never makes the browser lay the page out just to answer: reading
// scrollHeight or scrollTop after the DOM changed forces a synchronous
// layout of the whole page, and a chat that asked before and after every
// render laid the page out twice per render. The pin reads the box's
// position in its scroll events only, when the layout is fresh, and moves
// it to the end in the next animation frame, once however many renders
// asked: the layout it reads there is the one the frame needs anyway.
//
// Its methods run on the browser's one thread (go-app's UI goroutine and
// JavaScript callbacks); off the browser they do nothing.
type scrollPin struct {
	id    string  // the box's element id
	away  bool    // the reader scrolled up from the end
	top   float64 // scrollTop at the last scroll event
	frame int     // requestAnimationFrame's id of the pending move; 0: none

	onScroll app.Func // the document's scroll listener (capturing: scroll events do not bubble)
	onFrame  app.Func // the animation-frame callback
}

// start listens to the box's scrolling. Call stop when the box goes away.
func (p *scrollPin) start(id string) {
	p.id, p.away, p.top, p.frame = id, false, 0, 0
	if !app.IsClient {
		return
	}
	p.onScroll = app.FuncOf(func(_ app.Value, args []app.Value) any {
		if len(args) > 0 {
			if el := args[0].Get("target"); el.Truthy() && el.Get("id").String() == p.id {
				p.scrolled(el.Get("scrollTop").Float(), el.Get("scrollHeight").Float()-el.Get("clientHeight").Float())
			}
		}
		return nil
	})
	p.onFrame = app.FuncOf(func(app.Value, []app.Value) any {
		p.frame = 0
		if el := app.Window().GetElementByID(p.id); el.Truthy() {
			// Instantly: the box's smooth scroll-behavior would animate
			// the move, and the next render could stop it half-way.
			el.Call("scrollTo", map[string]any{"top": el.Get("scrollHeight").Float(), "behavior": "instant"})
		}
		return nil
	})
	app.Window().Get("document").Call("addEventListener", "scroll", p.onScroll, map[string]any{"capture": true, "passive": true})
}

// scrolled takes a scroll event: the box is now at top, and its end at
// end. Only a move up leaves the end: lines that arrive between a move to
// the end and its scroll event put the end further down, but the reader did
// not go anywhere.
func (p *scrollPin) scrolled(top, end float64) {
	switch {
	case end-top < pinSlack:
		p.away = false
	case top < p.top:
		p.away = true
	}
	p.top = top
}

// stop stops listening and drops a pending move.
func (p *scrollPin) stop() {
	if p.onScroll == nil {
		return
	}
	app.Window().Get("document").Call("removeEventListener", "scroll", p.onScroll, map[string]any{"capture": true})
	if p.frame != 0 {
		app.Window().Call("cancelAnimationFrame", p.frame)
		p.frame = 0
	}
	p.onFrame.Release()
	p.onScroll.Release()
	p.onScroll, p.onFrame = nil, nil
}

// atEnd reports whether the reader is at the box's end (as of their last
// scroll; true before any).
func (p *scrollPin) atEnd() bool { return !p.away }

// toEnd moves the box to its end in the next animation frame. It has
// ctx.Defer's signature because that is where to call it from: after go-app
// has rendered what the move is for (go-app renders on a timer of its own,
// so a frame asked for earlier could come first).
func (p *scrollPin) toEnd(app.Context) {
	p.away = false
	if p.onFrame == nil || p.frame != 0 {
		return
	}
	p.frame = app.Window().Call("requestAnimationFrame", p.onFrame).Int()
}
