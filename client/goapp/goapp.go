// Package goapp shows a Tether client's events in go-app components.
//
// A client's handlers run on its own goroutine, and a go-app component may
// only change on the UI goroutine, through its own app.Context: Dispatch on
// the context of another element (the sign-in form that started the client,
// say) is dropped silently once that element is unmounted, and the page
// stops changing while frames keep arriving. So the client never writes to
// a component here. It writes to a Value, which keeps the latest value, and
// every component that shows it calls Value.Watch in its OnMount with its
// own context: it gets the current value at once (a component mounted
// later misses nothing) and every later one while it is mounted.
//
//	// Once, where the client is made (any goroutine):
//	status := goapp.State(c)                                  // the connection's state
//	tally := goapp.Fold(c, &goapp.Value[Tally]{}, addVote)     // your messages, folded
//
//	// In each component that shows them:
//	func (b *board) OnMount(ctx app.Context) {
//		status.Watch(ctx, func(s client.StateInfo) { b.state = s })
//		tally.Watch(ctx, func(t Tally) { b.tally = t })
//	}
//
// The functions given to Watch run on the UI goroutine, and the component
// is rendered again after each.
package goapp

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// Value is a value that changes on any goroutine and is shown by go-app
// components. The zero Value holds T's zero value and is ready to use. A
// Value must not be copied after first use.
type Value[T any] struct {
	mu       sync.Mutex
	v        T
	watchers []*watcher[T]
}

// watcher is one component's Watch.
type watcher[T any] struct {
	ctx     app.Context
	fn      func(T)
	pending atomic.Bool // a dispatch is queued: it will read the latest value
}

// Get returns the current value.
func (v *Value[T]) Get() T {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.v
}

// Set replaces the value and updates every mounted component that watches
// it. It never blocks on the UI: updates that pile up while one is queued
// are merged into one that shows the latest value.
func (v *Value[T]) Set(x T) {
	v.Update(func(T) T { return x })
}

// Update replaces the value with fn(current), atomically with other Sets
// and Updates, and updates the watchers like Set. fn must not keep or
// modify what it was given if T holds a map or slice: return a new one.
func (v *Value[T]) Update(fn func(T) T) {
	v.mu.Lock()
	v.v = fn(v.v)
	// Drop the watchers of unmounted elements: their dispatches would be
	// dropped by go-app anyway. (A remounted component watches again in its
	// OnMount.) Under js/wasm Go runs on one thread, so reading Mounted here
	// does not race with the UI goroutine.
	live := v.watchers[:0]
	for _, w := range v.watchers {
		if w.ctx.Src() != nil && w.ctx.Src().Mounted() {
			live = append(live, w)
		}
	}
	clear(v.watchers[len(live):])
	v.watchers = live
	ws := append([]*watcher[T](nil), live...)
	v.mu.Unlock()
	for _, w := range ws {
		v.notify(w)
	}
}

// Watch shows the value in the component of ctx: fn runs on the UI
// goroutine with the current value now and with the latest value after
// every change, and the component is rendered again after each. Call it
// from OnMount with the component's own context; it ends when the component
// is dismounted (the next OnMount watches again).
func (v *Value[T]) Watch(ctx app.Context, fn func(T)) {
	w := &watcher[T]{ctx: ctx, fn: fn}
	v.mu.Lock()
	// A component dismounted and mounted again watches again: its new
	// watcher replaces the old one.
	v.watchers = slices.DeleteFunc(v.watchers, func(o *watcher[T]) bool { return o.ctx.Src() == ctx.Src() })
	v.watchers = append(v.watchers, w)
	v.mu.Unlock()
	v.notify(w)
}

// notify queues one call of w.fn with the value current when it runs,
// unless one is queued already.
func (v *Value[T]) notify(w *watcher[T]) {
	if w.pending.Swap(true) {
		return
	}
	w.ctx.Dispatch(func(app.Context) {
		w.pending.Store(false)
		w.fn(v.Get())
	})
}

// State returns a Value that follows c's connection state (Client.OnState):
// a status line watches it to say "connecting", "reconnecting in 3 s" or
// why the client stopped (a *client.HandshakeError for a refused login).
func State(c *client.Client) *Value[client.StateInfo] {
	v := &Value[client.StateInfo]{}
	v.Set(c.State())
	c.OnState(v.Set)
	return v
}

// Last returns a Value holding the last message of type T that c received
// (T's zero value before the first).
func Last[T shared.Message](c *client.Client) *Value[T] {
	v := &Value[T]{}
	client.On(c, v.Set)
	return v
}

// Fold applies fn to v's value and every message of type T that c
// receives, in order, and returns v: a tally of votes, a list of the last
// chat lines. fn runs on the client's goroutine and must not block; see
// Value.Update about maps and slices.
func Fold[T shared.Message, S any](c *client.Client, v *Value[S], fn func(S, T) S) *Value[S] {
	client.On(c, func(m T) {
		v.Update(func(s S) S { return fn(s, m) })
	})
	return v
}
