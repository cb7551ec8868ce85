package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// MaxKeyLen bounds an idempotency key (docs/protocol.md §3).
const MaxKeyLen = 64

// validKey checks an idempotency key: 1 to MaxKeyLen printable ASCII bytes.
func validKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key is longer than %d bytes", MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < '!' || c > '~' {
			return fmt.Errorf("key: invalid character at %d (want printable ASCII without spaces)", i)
		}
	}
	return nil
}

// outcome is the answer a keyed request got: a reply message (nil: reply
// ok) or an error.
type outcome struct {
	reply shared.Message
	err   *shared.Error
}

// keyedRun is one keyed request that reached its handler.
type keyedRun struct {
	key  string
	at   time.Time
	done chan struct{} // closed when res is set
	res  outcome
}

// userKeys is one user's window: the keyed runs in the order they started.
type userKeys struct {
	byKey map[string]*keyedRun
	order []*keyedRun
}

// idempotency remembers, per user, the keyed requests that ran, so that a
// request sent again after a reconnect is answered without running twice.
// It is bounded by size per user and by ttl; users whose window emptied are
// forgotten by a sweep at most once per ttl, on the next keyed request.
type idempotency struct {
	size int           // per user; 0: off
	ttl  time.Duration // how long a key is remembered

	mu        sync.Mutex
	users     map[string]*userKeys
	lastSweep time.Time
}

func newIdempotency(size int, ttl time.Duration) *idempotency {
	return &idempotency{size: size, ttl: ttl, users: make(map[string]*userKeys)}
}

// start returns the run of user's key: first reports whether it is new (the
// caller runs the handler and calls finish), otherwise the caller waits for
// the earlier run's outcome.
func (d *idempotency) start(user, key string, now time.Time) (run *keyedRun, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.lastSweep) >= d.ttl {
		d.lastSweep = now
		for u, w := range d.users {
			w.expire(now, d.ttl, d.size)
			if len(w.order) == 0 {
				delete(d.users, u)
			}
		}
	}
	w := d.users[user]
	if w == nil {
		w = &userKeys{byKey: make(map[string]*keyedRun)}
		d.users[user] = w
	}
	w.expire(now, d.ttl, d.size)
	if r := w.byKey[key]; r != nil {
		return r, false
	}
	for len(w.order) >= d.size {
		w.drop()
	}
	r := &keyedRun{key: key, at: now, done: make(chan struct{})}
	w.byKey[key] = r
	w.order = append(w.order, r)
	return r, true
}

// finish records the outcome of a run started by start.
func (d *idempotency) finish(r *keyedRun, res outcome) {
	r.res = res
	close(r.done)
}

// wait returns the outcome of an earlier run, or false when ctx ends first.
func (r *keyedRun) wait(ctx context.Context) (outcome, bool) {
	select {
	case <-r.done:
		return r.res, true
	case <-ctx.Done():
		return outcome{}, false
	}
}

// expire drops the runs older than ttl, and the oldest beyond size.
func (w *userKeys) expire(now time.Time, ttl time.Duration, size int) {
	for len(w.order) > 0 && (now.Sub(w.order[0].at) >= ttl || len(w.order) > size) {
		w.drop()
	}
}

// drop forgets the oldest run.
func (w *userKeys) drop() {
	r := w.order[0]
	w.order[0] = nil
	w.order = w.order[1:]
	if w.byKey[r.key] == r {
		delete(w.byKey, r.key)
	}
}
