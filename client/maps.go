package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Map is the client's copy of a server map, a keyed-state room
// (docs/protocol.md §11): keys of type K (a string type), values of type V
// (decoded from their JSON). After Subscribe it holds the map's snapshot and
// follows its changes, in order, with no gap; after a reconnect it resumes
// where it stopped, by the changes it missed or by a fresh snapshot. Its
// read methods are safe for concurrent use and never block on the network.
//
// A go-app component reads the copy in Render (All, Get) and is rendered
// again from OnChange, registered with its own context in OnMount and
// stopped in OnDismount (a component's app.Context is not canceled when it
// is dismounted, and go-app drops the dispatches of a dismounted one):
//
//	func (b *board) OnMount(ctx app.Context) {
//		b.stop = scores.OnChange(func(client.Change[string, Score]) { ctx.Dispatch(nil) })
//	}
//	func (b *board) OnDismount() { b.stop() }
type Map[K ~string, V any] struct {
	c    *Client
	name string

	mu      sync.Mutex
	entries map[K]Entry[V]
	epoch   string // the copy's position; "" before the first snapshot
	rev     uint64
	want    bool                  // subscribed: resubscribe after a reconnect
	synced  bool                  // in step with the server on the current connection
	pend    *pendingSnap          // snapshot pages being collected
	catchup int                   // changes still to come in a resume's catch-up
	ready   chan struct{}         // closed when the copy is in step (synced)
	moved   chan struct{}         // closed at the copy's next change; nil: nobody waits
	fns     []*func(Change[K, V]) // copied on write: a notifier ranges over its own slice
}

// Entry is a key's value in a Map with the revision that set it.
type Entry[V any] struct {
	// Value is the value.
	Value V
	// Rev is the revision of the change that set it.
	Rev uint64
}

// ChangeOp is what a Change did.
type ChangeOp string

// The operations of a Change.
const (
	// ChangeSet: the key was set to Value.
	ChangeSet ChangeOp = shared.MapOpSet
	// ChangeDelete: the key was deleted by a write.
	ChangeDelete ChangeOp = shared.MapOpDelete
	// ChangeExpire: the key was removed by its TTL.
	ChangeExpire ChangeOp = shared.MapOpExpire
	// ChangeSnapshot: the whole copy was replaced by a snapshot (after a
	// subscribe, or when the changes a resume needed were gone); Key and
	// Value are zero.
	ChangeSnapshot ChangeOp = "snapshot"
)

// Change is one change of a Map's copy, as given to OnChange.
type Change[K ~string, V any] struct {
	// Op is what happened.
	Op ChangeOp
	// Key is the key changed (not for ChangeSnapshot).
	Key K
	// Value is the new value of a ChangeSet.
	Value V
	// Rev is the change's revision (the snapshot's, for ChangeSnapshot).
	Rev uint64
}

// pendingSnap is a snapshot whose pages are arriving.
type pendingSnap struct {
	epoch   string
	rev     uint64
	pages   int
	entries []shared.MapEntry
}

// mapCopy is what the Client needs of a Map, whatever its types.
type mapCopy interface {
	// resume is the subscribe that resumes from the copy's position.
	resume() shared.MapSub
	// subscribed, snapshot and change apply the frames of the map, on the
	// read goroutine.
	subscribed(s shared.MapSubscribed)
	snapshot(s shared.MapSnapshot)
	change(ch shared.MapChange)
	// lost tells the copy that its connection ended.
	lost()
}

// NewMap returns the client's copy of the server map name, empty until
// Subscribe. A client holds one Map per name: NewMap fails when another Map
// of c has name and is subscribed.
func NewMap[K ~string, V any](c *Client, name string) (*Map[K, V], error) {
	if err := shared.ValidMapName(name); err != nil {
		return nil, fmt.Errorf("map %q: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.maps[name]; dup {
		return nil, fmt.Errorf("map %q: another Map of this client is subscribed to it", name)
	}
	return &Map[K, V]{c: c, name: name, entries: make(map[K]Entry[V]), ready: make(chan struct{})}, nil
}

// Name returns the map's name.
func (m *Map[K, V]) Name() string { return m.name }

// Subscribe subscribes to the map and returns once the copy holds the
// map's snapshot (or, when it was subscribed before, has caught up with
// the changes it missed). The map is remembered: after a reconnect the
// client subscribes again from the copy's position. Like Request, Subscribe
// waits for the connection when the client is not Open, and its errors are
// the same (code not_found: no such map; forbidden: refused).
func (m *Map[K, V]) Subscribe(ctx context.Context) error {
	c := m.c
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var (
		cn    *conn
		msg   shared.MapSub
		ready chan struct{}
	)
	for cn == nil {
		open, err := c.waitOpen(ctx, shared.TypeOf[shared.MapSub]())
		if err != nil {
			return err
		}
		c.mu.Lock()
		if other, dup := c.maps[m.name]; dup && other != mapCopy(m) {
			c.mu.Unlock()
			return fmt.Errorf("map %q: another Map of this client is subscribed to it", m.name)
		}
		if c.conn == open {
			cn = open
			c.maps[m.name] = m
			msg = m.resume()
			m.mu.Lock()
			m.want = true
			ready = m.ready
			m.mu.Unlock()
		}
		c.mu.Unlock()
	}
	env, err := c.roundTrip(ctx, cn, msg)
	if err != nil {
		return err // timeout or lost connection: the next connection subscribes
	}
	if _, err := decodeReply[shared.MapSubscribed](msg.MessageType(), env); err != nil {
		var se *shared.Error
		if errors.As(err, &se) && permanent(se.Code) {
			m.forget()
		}
		return err
	}
	select {
	case <-ready:
		return nil
	case <-cn.done:
		return closedError(msg.MessageType())
	case <-ctx.Done():
		return ctxError(ctx, msg.MessageType())
	}
}

// Unsubscribe ends the subscription; the copy keeps what it holds but no
// longer follows the map, and is not resubscribed after a reconnect.
func (m *Map[K, V]) Unsubscribe(ctx context.Context) error {
	m.forget()
	c := m.c
	c.mu.Lock()
	cn := c.conn
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	msg := shared.MapUnsub{Map: m.name}
	env, err := c.roundTrip(ctx, cn, msg)
	if err != nil {
		return err
	}
	_, err = decodeReply[shared.Reply](msg.MessageType(), env)
	return err
}

// forget drops the map from the client's subscriptions.
func (m *Map[K, V]) forget() {
	m.c.mu.Lock()
	if m.c.maps[m.name] == mapCopy(m) {
		delete(m.c.maps, m.name)
	}
	m.c.mu.Unlock()
	m.mu.Lock()
	m.want, m.synced, m.pend = false, false, nil
	m.mu.Unlock()
}

// OnChange registers fn to be called after every change of the copy: each
// set, delete and expiry, and ChangeSnapshot when a snapshot replaced it.
// fn runs on the client's Run goroutine, after the copy changed (Get and
// All already see the change), and must not block. The returned stop
// unregisters fn (a call already under way may still finish); calling it
// again does nothing.
func (m *Map[K, V]) OnChange(fn func(Change[K, V])) (stop func()) {
	p := &fn
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fns = append(m.fns[:len(m.fns):len(m.fns)], p)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fns = slices.DeleteFunc(slices.Clone(m.fns), func(q *func(Change[K, V])) bool { return q == p })
	}
}

// Get returns key's value in the copy and the revision that set it.
func (m *Map[K, V]) Get(key K) (V, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	return e.Value, e.Rev, ok
}

// Len returns how many keys the copy holds.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// All returns a copy of the map's entries.
func (m *Map[K, V]) All() map[K]Entry[V] {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[K]Entry[V], len(m.entries))
	for k, e := range m.entries {
		out[k] = e
	}
	return out
}

// Keys returns the copy's keys, sorted.
func (m *Map[K, V]) Keys() []K {
	m.mu.Lock()
	keys := make([]K, 0, len(m.entries))
	for k := range m.entries {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	slices.Sort(keys)
	return keys
}

// Position returns the copy's position: the map's epoch and the revision
// of the last change (or snapshot) applied; "" and 0 before the first
// snapshot.
func (m *Map[K, V]) Position() (epoch string, rev uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch, m.rev
}

// Synced reports whether the copy is in step with the server: subscribed on
// the current connection, with its snapshot or catch-up complete. While it
// is not (reconnecting), the copy still holds what it last had.
func (m *Map[K, V]) Synced() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.synced
}

// WriteOption conditions a Map write.
type WriteOption func(*shared.MapSet)

// IfRev makes a write conditional: it is applied only if the key's current
// revision is rev (0: only if the key does not exist); otherwise it fails
// with code shared.CodeConflict (see IsConflict). The revision of a key in
// the copy is Get's second result.
func IfRev(rev uint64) WriteOption {
	return func(s *shared.MapSet) { s.IfRev = &rev }
}

// TTL makes the key expire d after the write (Set only; rounded up to a
// millisecond), unless written again.
func TTL(d time.Duration) WriteOption {
	return func(s *shared.MapSet) { s.TTLMS = int64((d + time.Millisecond - 1) / time.Millisecond) }
}

// IsConflict reports whether err is a conditional write that lost: the
// key's revision had moved. Retry it from the copy's new value.
func IsConflict(err error) bool {
	var se *shared.Error
	return errors.As(err, &se) && se.Code == shared.CodeConflict
}

// Set asks the server to set key to v (through the application's write
// handler for the map, which may refuse it) and returns the write's
// revision. The copy sees the change when it arrives as a change of the
// map, if subscribed. A write whose connection is lost before the answer
// may or may not have been made: write again with IfRev to be sure.
func (m *Map[K, V]) Set(ctx context.Context, key K, v V, opts ...WriteOption) (uint64, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("map %q set %q: %w", m.name, key, err)
	}
	req := shared.MapSet{Map: m.name, Key: string(key), Value: raw}
	for _, o := range opts {
		o(&req)
	}
	w, err := Request[shared.MapWritten](ctx, m.c, req)
	return w.Rev, err
}

// Delete asks the server to delete key (through the application's write
// handler) and returns the write's revision. Of the options only IfRev
// applies.
func (m *Map[K, V]) Delete(ctx context.Context, key K, opts ...WriteOption) (uint64, error) {
	var s shared.MapSet
	for _, o := range opts {
		o(&s)
	}
	w, err := Request[shared.MapWritten](ctx, m.c, shared.MapDelete{Map: m.name, Key: string(key), IfRev: s.IfRev})
	return w.Rev, err
}

// Update writes fn's result for key conditionally on the revision fn saw,
// and on a conflict waits for the copy to move and calls fn again, until
// the write wins, fn fails, or ctx is done. fn gets the copy's current
// value (ok false: the key is absent) and must not block. The map must be
// subscribed, so that the copy sees the change that won.
func (m *Map[K, V]) Update(ctx context.Context, key K, fn func(old V, ok bool) (V, error)) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.c.opts.RequestTimeout)
	defer cancel()
	for {
		m.mu.Lock()
		e, ok := m.entries[key]
		m.mu.Unlock()
		v, err := fn(e.Value, ok)
		if err != nil {
			return 0, err
		}
		rev, err := m.Set(ctx, key, v, IfRev(e.Rev))
		if !IsConflict(err) {
			return rev, err
		}
		if err := m.waitMoved(ctx, key, e.Rev); err != nil {
			return 0, fmt.Errorf("map %q update %q: %w", m.name, key, err)
		}
	}
}

// waitMoved waits until key's revision in the copy is no longer rev.
func (m *Map[K, V]) waitMoved(ctx context.Context, key K, rev uint64) error {
	for {
		m.mu.Lock()
		e := m.entries[key]
		if m.moved == nil {
			m.moved = make(chan struct{})
		}
		ch := m.moved
		m.mu.Unlock()
		if e.Rev != rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// --- the read goroutine's side ---

// resume implements mapCopy.
func (m *Map[K, V]) resume() shared.MapSub {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.synced || m.pend != nil || m.catchup > 0 {
		m.synced, m.pend, m.catchup = false, nil, 0
	}
	if m.isReady() {
		m.ready = make(chan struct{})
	}
	return shared.MapSub{Map: m.name, Epoch: m.epoch, Rev: m.rev}
}

func (m *Map[K, V]) isReady() bool {
	select {
	case <-m.ready:
		return true
	default:
		return false
	}
}

// subscribed implements mapCopy.
func (m *Map[K, V]) subscribed(s shared.MapSubscribed) {
	m.mu.Lock()
	if !m.want {
		m.mu.Unlock()
		return
	}
	m.synced, m.pend, m.catchup = false, nil, 0
	if s.Snapshot {
		p := &pendingSnap{epoch: s.Epoch, rev: s.Rev, pages: s.Pages}
		m.pend = p
		m.mu.Unlock()
		if s.Pages == 0 {
			m.applySnapshot(p) // an empty map: no page follows
		}
		return
	}
	if s.Epoch != m.epoch {
		// A catch-up of another epoch cannot apply to this copy: the server
		// would not send it (protocol §11); resubscribe for a snapshot.
		m.mu.Unlock()
		m.c.log.Warn("tether client: map catch-up for another epoch", "map", m.name, "epoch", s.Epoch, "have", m.epoch)
		return
	}
	m.catchup = s.Changes
	if m.catchup == 0 {
		m.synced = true
		m.markReady()
	}
	m.mu.Unlock()
}

// markReady closes ready once. Called with mu held.
func (m *Map[K, V]) markReady() {
	if !m.isReady() {
		close(m.ready)
	}
}

// snapshot implements mapCopy.
func (m *Map[K, V]) snapshot(s shared.MapSnapshot) {
	m.mu.Lock()
	p := m.pend
	if p == nil || p.epoch != s.Epoch || p.rev != s.Rev {
		m.mu.Unlock()
		return // a page of a snapshot this copy is not collecting
	}
	p.entries = append(p.entries, s.Entries...)
	if s.More {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	m.applySnapshot(p)
}

// applySnapshot replaces the copy with p's entries.
func (m *Map[K, V]) applySnapshot(p *pendingSnap) {
	entries := make(map[K]Entry[V], len(p.entries))
	for _, e := range p.entries {
		var v V
		if err := json.Unmarshal(e.Value, &v); err != nil {
			m.c.log.Error("tether client: map value does not decode", "map", m.name, "key", e.Key, "err", err)
			continue
		}
		entries[K(e.Key)] = Entry[V]{Value: v, Rev: e.Rev}
	}
	m.mu.Lock()
	if m.pend != p {
		m.mu.Unlock()
		return
	}
	m.entries, m.epoch, m.rev = entries, p.epoch, p.rev
	m.pend, m.synced = nil, true
	m.markReady()
	fns := m.fns
	m.notify()
	m.mu.Unlock()
	for _, fn := range fns {
		(*fn)(Change[K, V]{Op: ChangeSnapshot, Rev: p.rev})
	}
}

// notify wakes Update's waiters. Called with mu held.
func (m *Map[K, V]) notify() {
	if m.moved != nil {
		close(m.moved)
		m.moved = nil
	}
}

// change implements mapCopy.
func (m *Map[K, V]) change(ch shared.MapChange) {
	var v V
	if ch.Op == shared.MapOpSet {
		if err := json.Unmarshal(ch.Value, &v); err != nil {
			m.c.log.Error("tether client: map value does not decode", "map", m.name, "key", ch.Key, "err", err)
			ch.Op = shared.MapOpDelete // the copy must not keep a value the server no longer has
		}
	}
	m.mu.Lock()
	if !m.want || m.pend != nil || m.epoch == "" || ch.Rev <= m.rev {
		m.mu.Unlock()
		return // not following, or a repeat
	}
	key := K(ch.Key)
	switch ch.Op {
	case shared.MapOpSet:
		m.entries[key] = Entry[V]{Value: v, Rev: ch.Rev}
	default:
		delete(m.entries, key)
	}
	m.rev = ch.Rev
	if m.catchup > 0 {
		m.catchup--
		if m.catchup == 0 {
			m.synced = true
			m.markReady()
		}
	}
	fns := m.fns
	m.notify()
	m.mu.Unlock()
	c := Change[K, V]{Op: ChangeOp(ch.Op), Key: key, Rev: ch.Rev}
	if ch.Op == shared.MapOpSet {
		c.Value = v
	}
	for _, fn := range fns {
		(*fn)(c)
	}
}

// lost implements mapCopy.
func (m *Map[K, V]) lost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.synced, m.pend, m.catchup = false, nil, 0
}

// handleMapFrame applies a map frame to the copy it is about. It runs on
// the read goroutine, before a reply is handed to its request.
func (c *Client) handleMapFrame(env shared.Envelope) {
	var name string
	var apply func(mapCopy)
	switch env.Type {
	case shared.TypeOf[shared.MapSubscribed]():
		s, err := shared.Unmarshal[shared.MapSubscribed](env)
		if err != nil {
			c.log.Warn("tether client: undecodable map.subscribed", "err", err)
			return
		}
		name, apply = s.Map, func(m mapCopy) { m.subscribed(s) }
	case shared.TypeOf[shared.MapSnapshot]():
		s, err := shared.Unmarshal[shared.MapSnapshot](env)
		if err != nil {
			c.log.Warn("tether client: undecodable map.snapshot", "err", err)
			return
		}
		name, apply = s.Map, func(m mapCopy) { m.snapshot(s) }
	case shared.TypeOf[shared.MapChange]():
		ch, err := shared.Unmarshal[shared.MapChange](env)
		if err != nil {
			c.log.Warn("tether client: undecodable map.change", "err", err)
			return
		}
		name, apply = ch.Map, func(m mapCopy) { m.change(ch) }
	default:
		return
	}
	c.mu.Lock()
	m := c.maps[name]
	c.mu.Unlock()
	if m != nil {
		apply(m)
	}
}

// resubscribe subscribes the remembered maps again on a new connection, all
// requests written at once, then waits for the answers (the snapshots and
// catch-ups that follow are applied by the read goroutine). It reports
// whether every map answered. A map the server refuses for good is lost.
func (c *Client) resubscribe(cn *conn, subs []shared.MapSub) bool {
	return resend[shared.MapSubscribed](c, cn, "resubscribe", "map", subs,
		func(s shared.MapSub) string { return s.Map },
		func(s shared.MapSub) {
			c.mu.Lock()
			m := c.maps[s.Map]
			c.mu.Unlock()
			if m != nil {
				m.lost()
			}
		})
}
