package server

import (
	"context"
	"time"
)

// connContext is a connection's context (Conn.Context): the Conn itself,
// seen as a context.Context that is done when the connection starts closing
// (its closing channel), with context.Canceled, and has no deadline and no
// values. A connection thus needs no context of its own: a cancelCtx, its
// done channel and its entry in a parent's children cost about 600 bytes
// per connection, idle or not.
//
// It has an AfterFunc method, which the context package uses for the
// contexts derived from it (context.WithTimeout(c.Context(), ...)): they
// are cancelled by a function the connection runs when it starts closing,
// and forgotten when they are cancelled first; no goroutine waits for them.
type connContext Conn

// afterFunc is a function registered by connContext.AfterFunc; i is its
// index in Conn.afters while registered.
type afterFunc struct {
	f func()
	i int
}

// Deadline implements context.Context: none.
func (*connContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed when the connection starts
// closing.
func (c *connContext) Done() <-chan struct{} { return c.closing }

// Err implements context.Context: context.Canceled once the connection
// has started closing.
func (c *connContext) Err() error {
	select {
	case <-c.closing:
		return context.Canceled
	default:
		return nil
	}
}

// Value implements context.Context: a connection's context carries no
// values.
func (*connContext) Value(any) any { return nil }

// String names the context, as the context package's own do.
func (c *connContext) String() string { return "tether.Conn(" + c.id + ").Context" }

// AfterFunc arranges for f to run in a goroutine of its own once the
// connection starts closing, at once if it has; stop unregisters f and
// reports whether it did so before f was started, as context.AfterFunc.
func (c *connContext) AfterFunc(f func()) (stop func() bool) {
	c.closeMu.Lock()
	if c.closed != nil {
		c.closeMu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f, i: len(c.afters)}
	c.afters = append(c.afters, a)
	c.closeMu.Unlock()
	return func() bool {
		c.closeMu.Lock()
		defer c.closeMu.Unlock()
		if a.i < 0 || c.closed != nil {
			return false
		}
		last := len(c.afters) - 1
		c.afters[a.i] = c.afters[last]
		c.afters[a.i].i = a.i
		c.afters[last] = nil
		c.afters = c.afters[:last]
		if len(c.afters) == 0 {
			c.afters = nil // an idle connection keeps no slice
		}
		a.i = -1
		return true
	}
}
