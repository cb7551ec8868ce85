package memory

import (
	"context"
	"sync"
	"time"

	"github.com/tetherkit/tether/broker"
)

// Claim implements broker.IdempotencyStore in process: per user, the keyed
// requests that ran within their window, at most Config.IdempotencyKeys of
// them (the oldest go first), so that a request sent again after a
// reconnect is answered without running twice. With IdempotencyKeys
// negative every claim is a new run.
func (b *Broker) Claim(ctx context.Context, user, key string, window time.Duration) (broker.KeyedRun, broker.Outcome, error) {
	if b.keys == nil {
		return broker.NoIdempotency{}.Claim(ctx, user, key, window)
	}
	return b.keys.Claim(ctx, user, key, window)
}

// keyedRun is one keyed request that reached its handler.
type keyedRun struct {
	key   string
	until time.Time     // end of its window
	done  chan struct{} // closed when res is set
	once  sync.Once
	res   broker.Outcome
}

// Finish implements broker.KeyedRun.
func (r *keyedRun) Finish(_ context.Context, out broker.Outcome) error {
	r.once.Do(func() {
		r.res = out
		close(r.done)
	})
	return nil
}

// claim is a first run's claim in the window.
type claim struct {
	*keyedRun
	d    *idempotency
	user string
}

// Release implements broker.KeyedRun: the key is forgotten, and the
// repeats waiting for this run get out.
func (c claim) Release(ctx context.Context, out broker.Outcome) error {
	c.d.forget(c.user, c.keyedRun)
	return c.Finish(ctx, out)
}

// wait returns the outcome of an earlier run, or ctx's error when ctx ends
// first.
func (r *keyedRun) wait(ctx context.Context) (broker.Outcome, error) {
	select {
	case <-r.done:
		return r.res, nil
	case <-ctx.Done():
		return broker.Outcome{}, ctx.Err()
	}
}

// userKeys is one user's window: the keyed runs in the order they started.
type userKeys struct {
	byKey map[string]*keyedRun
	order []*keyedRun
}

// idempotency is the in-process window of keyed requests. It is bounded by
// size per user and by each run's window; users whose window emptied are
// forgotten by a sweep at most once per window, on the next keyed request.
type idempotency struct {
	size int // per user
	now  func() time.Time

	mu        sync.Mutex
	users     map[string]*userKeys
	lastSweep time.Time
}

func newIdempotency(size int, now func() time.Time) *idempotency {
	return &idempotency{size: size, now: now, users: make(map[string]*userKeys)}
}

// Claim implements broker.IdempotencyStore.
func (d *idempotency) Claim(ctx context.Context, user, key string, window time.Duration) (broker.KeyedRun, broker.Outcome, error) {
	run, first := d.start(user, key, d.now(), window)
	if first {
		return claim{keyedRun: run, d: d, user: user}, broker.Outcome{}, nil
	}
	out, err := run.wait(ctx)
	return nil, out, err
}

// start returns the run of user's key: first reports whether it is new (the
// caller runs the handler and calls Finish), otherwise the caller waits for
// the earlier run's outcome.
func (d *idempotency) start(user, key string, now time.Time, window time.Duration) (run *keyedRun, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.lastSweep) >= window {
		d.lastSweep = now
		for u, w := range d.users {
			w.expire(now, d.size)
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
	w.expire(now, d.size)
	if r := w.byKey[key]; r != nil && now.Before(r.until) {
		return r, false
	}
	for len(w.order) >= d.size {
		w.drop()
	}
	r := &keyedRun{key: key, until: now.Add(window), done: make(chan struct{})}
	w.byKey[key] = r
	w.order = append(w.order, r)
	return r, true
}

// forget removes run r of user from the window, if it is still there.
func (d *idempotency) forget(user string, r *keyedRun) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.users[user]
	if w == nil || w.byKey[r.key] != r {
		return
	}
	delete(w.byKey, r.key)
	for i, x := range w.order {
		if x == r {
			w.order = append(w.order[:i], w.order[i+1:]...)
			break
		}
	}
}

// expire drops the oldest runs whose window ended, and the oldest beyond
// size.
func (w *userKeys) expire(now time.Time, size int) {
	for len(w.order) > 0 && (!now.Before(w.order[0].until) || len(w.order) > size) {
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
