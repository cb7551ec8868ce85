package ui

import "sync"

// observable hands each value published to the functions watching it. The
// stores of the app use it to tell components that they changed; go-app's
// own state (Context.SetState/ObserveState) needs an app.Context, which the
// client's handlers, running on the client's goroutine, do not have.
// The zero observable is ready to use.
type observable[T any] struct {
	mu       sync.Mutex
	watchers map[int]func(T)
	next     int
}

// watch calls fn with every value published until the returned stop is
// called. fn runs on whatever goroutine publishes and must not block;
// components pass a function that calls Context.Dispatch.
func (o *observable[T]) watch(fn func(T)) (stop func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.watchers == nil {
		o.watchers = make(map[int]func(T))
	}
	id := o.next
	o.next++
	o.watchers[id] = fn
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.watchers, id)
	}
}

// publish calls the watchers with v, outside the observable's lock, so a
// watcher may watch or stop.
func (o *observable[T]) publish(v T) {
	o.mu.Lock()
	fns := make([]func(T), 0, len(o.watchers))
	for _, fn := range o.watchers {
		fns = append(fns, fn)
	}
	o.mu.Unlock()
	for _, fn := range fns {
		fn(v)
	}
}

// changes is an observable without a payload: a store publishes on it
// whenever what it holds changed, and watchers read the store again.
type changes struct{ observable[struct{}] }

// changed tells the watchers.
func (c *changes) changed() { c.publish(struct{}{}) }

// watchAll calls fn whenever any of cs changes, until the returned stop is
// called.
func watchAll(fn func(), cs ...*changes) (stop func()) {
	stops := make([]func(), 0, len(cs))
	for _, c := range cs {
		stops = append(stops, c.watch(func(struct{}) { fn() }))
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
