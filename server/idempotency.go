package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// MaxKeyLen bounds an idempotency key (docs/protocol.md §3).
const MaxKeyLen = 64

// KeyWait bounds how long a keyed request whose key is claimed by a run
// that has not finished yet (on this node or another) waits for that run's
// answer before it is answered with an internal error (docs/protocol.md §3).
const KeyWait = 10 * time.Second

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

// IdempotencyStore keeps the idempotency window of keyed requests
// (docs/protocol.md §3): which keys of a user ran and what they answered.
// A Broker that also implements it makes the window shared by every node
// that uses the broker (server/natsbroker does); otherwise each server keeps
// its window in process, bounded by Config.IdempotencyKeys per user and
// Config.IdempotencyTTL.
//
// Claim is called for a keyed request that reached its handler. It returns
// a non-nil KeyedRun when the key is new to the window (the caller runs the
// request and calls Finish with its outcome); otherwise the first run's
// Outcome, waiting while that run has not finished, until ctx is done (then
// ctx's error). Any other error means the window could not be consulted:
// the server does not run the request (it fails closed) and answers
// internal. window is how long a claim and its outcome are remembered.
type IdempotencyStore interface {
	Claim(ctx context.Context, user, key string, window time.Duration) (KeyedRun, Outcome, error)
}

// KeyedRun is the claim of the first run of a keyed request.
type KeyedRun interface {
	// Finish records the run's outcome, the answer of every repeat of the
	// key within the window.
	Finish(ctx context.Context, out Outcome) error
	// Release gives the key up without an outcome: the run was not applied
	// (it was answered unavailable), and the key sent again runs it again.
	// Repeats waiting for this run get out (an unavailable answer) or claim
	// the key themselves. A store that cannot record the release now keeps
	// trying until it can or the window ends, and returns the error.
	Release(ctx context.Context, out Outcome) error
}

// Outcome is the answer a keyed request got: its reply message, reply ok
// (Type "" and no Err), or an error.
type Outcome struct {
	// Type is the reply message's type; "" for reply ok or an error.
	Type string `json:"type,omitempty"`
	// Data is the reply message's data.
	Data json.RawMessage `json:"data,omitempty"`
	// Err is the error answer.
	Err *shared.Error `json:"error,omitempty"`
}

// rawReply is a reply message kept as its type and encoded data.
type rawReply struct {
	typ  string
	data json.RawMessage
}

func (r rawReply) MessageType() string          { return r.typ }
func (r rawReply) MarshalJSON() ([]byte, error) { return r.data, nil }

// keyedRun is one keyed request that reached its handler.
type keyedRun struct {
	key  string
	at   time.Time
	done chan struct{} // closed when res is set
	once sync.Once
	res  Outcome
}

// Finish implements KeyedRun.
func (r *keyedRun) Finish(_ context.Context, out Outcome) error {
	r.once.Do(func() {
		r.res = out
		close(r.done)
	})
	return nil
}

// inProcessRun is a claim in the in-process window.
type inProcessRun struct {
	*keyedRun
	d    *idempotency
	user string
}

// Release implements KeyedRun: the key is forgotten, and the repeats
// waiting for this run get out.
func (r inProcessRun) Release(ctx context.Context, out Outcome) error {
	r.d.forget(r.user, r.keyedRun)
	return r.Finish(ctx, out)
}

// wait returns the outcome of an earlier run, or ctx's error when ctx ends
// first.
func (r *keyedRun) wait(ctx context.Context) (Outcome, error) {
	select {
	case <-r.done:
		return r.res, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

// userKeys is one user's window: the keyed runs in the order they started.
type userKeys struct {
	byKey map[string]*keyedRun
	order []*keyedRun
}

// idempotency is the in-process IdempotencyStore: per user, the keyed
// requests that ran, so that a request sent again after a reconnect to this
// server is answered without running twice. It is bounded by size per user
// and by ttl; users whose window emptied are forgotten by a sweep at most
// once per ttl, on the next keyed request.
type idempotency struct {
	size int           // per user; 0: off
	ttl  time.Duration // how long a key is remembered
	now  func() time.Time

	mu        sync.Mutex
	users     map[string]*userKeys
	lastSweep time.Time
}

func newIdempotency(size int, ttl time.Duration, now func() time.Time) *idempotency {
	return &idempotency{size: size, ttl: ttl, now: now, users: make(map[string]*userKeys)}
}

// Claim implements IdempotencyStore; the window is the store's ttl.
func (d *idempotency) Claim(ctx context.Context, user, key string, _ time.Duration) (KeyedRun, Outcome, error) {
	run, first := d.start(user, key, d.now())
	if first {
		return inProcessRun{keyedRun: run, d: d, user: user}, Outcome{}, nil
	}
	out, err := run.wait(ctx)
	return nil, out, err
}

// start returns the run of user's key: first reports whether it is new (the
// caller runs the handler and calls Finish), otherwise the caller waits for
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
