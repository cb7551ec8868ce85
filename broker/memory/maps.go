package memory

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// memoryMaps is the memory broker's maps and last values (broker.Maps,
// broker.LastValues): they live in this process and are lost when it
// stops. A map's feeds are called synchronously, under the map's lock,
// which gives it its one order.
type memoryMaps struct {
	now func() time.Time

	mu     sync.Mutex
	closed bool
	maps   map[string]*memMap
	last   map[string]map[string]broker.Publication // by room, by slot
}

func newMemoryMaps(now func() time.Time) *memoryMaps {
	return &memoryMaps{now: now, maps: make(map[string]*memMap), last: make(map[string]map[string]broker.Publication)}
}

// errClosed refuses a map opened after Close.
var errClosed = errors.New("memory broker: closed")

// OpenMap implements broker.Maps.
func (b *Broker) OpenMap(ctx context.Context, name string, feed broker.MapFeed) (broker.MapStore, error) {
	return b.maps.OpenMap(ctx, name, feed)
}

// SetLast implements broker.LastValues.
func (b *Broker) SetLast(ctx context.Context, room, slot string, p broker.Publication) error {
	return b.maps.SetLast(ctx, room, slot, p)
}

// Last implements broker.LastValues.
func (b *Broker) Last(ctx context.Context, room string) ([]broker.Publication, error) {
	return b.maps.Last(ctx, room)
}

// memMap is one map of the memory broker.
type memMap struct {
	b     *memoryMaps
	epoch string

	mu      sync.Mutex
	rev     uint64
	entries map[string]*memEntry
	feeds   map[*memMapStore]struct{}
	due     expiries    // the keys with a TTL, earliest first (stale items are skipped)
	timer   *time.Timer // the next expiry; nil when no key has a TTL
	timerAt time.Time
	stopped bool
}

// expiry is a key's expiry as set by the write of revision rev; it is
// stale once the key was written again or deleted.
type expiry struct {
	at  time.Time
	key string
	rev uint64
}

// expiries is a min-heap of expiry (container/heap), by time then key, so a
// write costs O(log n) however many keys the map holds.
type expiries []expiry

func (h expiries) Len() int { return len(h) }
func (h expiries) Less(i, j int) bool {
	return cmp.Or(h[i].at.Compare(h[j].at), cmp.Compare(h[i].key, h[j].key)) < 0
}
func (h expiries) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *expiries) Push(x any)   { *h = append(*h, x.(expiry)) }
func (h *expiries) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type memEntry struct {
	rev     uint64
	value   []byte
	expires time.Time // zero: never
}

// memMapStore is one OpenMap of a memMap.
type memMapStore struct {
	m    *memMap
	feed broker.MapFeed
}

// OpenMap opens (creating) map name and feeds it its snapshot.
func (b *memoryMaps) OpenMap(ctx context.Context, name string, feed broker.MapFeed) (broker.MapStore, error) {
	if err := shared.ValidMapName(name); err != nil {
		return nil, fmt.Errorf("open map %q: %w", name, err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("open map %q: %w", name, errClosed)
	}
	m := b.maps[name]
	if m == nil {
		m = &memMap{b: b, epoch: randomID(), entries: make(map[string]*memEntry), feeds: make(map[*memMapStore]struct{})}
		b.maps[name] = m
	}
	b.mu.Unlock()
	st := &memMapStore{m: m, feed: feed}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.feeds[st] = struct{}{}
	state := broker.MapState{Epoch: m.epoch, Rev: m.rev, Entries: make([]broker.MapEntry, 0, len(m.entries))}
	for k, e := range m.entries {
		state.Entries = append(state.Entries, broker.MapEntry{Key: k, Rev: e.rev, Value: e.value})
	}
	feed.MapSnapshot(state)
	return st, nil
}

// Write implements broker.MapStore.
func (st *memMapStore) Write(ctx context.Context, w broker.MapWrite) (uint64, error) {
	if err := shared.ValidMapKey(w.Key); err != nil {
		return 0, fmt.Errorf("write map key %q: %w", w.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m := st.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.b.now()
	m.expireLocked(now) // a key past its TTL does not exist, even before its timer ran
	cur := m.entries[w.Key]
	if w.IfRev != nil {
		have := uint64(0)
		if cur != nil {
			have = cur.rev
		}
		if have != *w.IfRev {
			return 0, broker.ErrConflict
		}
	}
	m.rev++
	c := broker.MapChange{Rev: m.rev, Key: w.Key}
	if w.Delete {
		c.Op = shared.MapOpDelete
		delete(m.entries, w.Key)
	} else {
		c.Op, c.Value = shared.MapOpSet, w.Value
		e := &memEntry{rev: m.rev, value: w.Value}
		if w.TTL > 0 {
			e.expires = now.Add(w.TTL)
			heap.Push(&m.due, expiry{at: e.expires, key: w.Key, rev: e.rev})
		}
		m.entries[w.Key] = e
		m.armLocked(now)
	}
	m.deliverLocked(c)
	return c.Rev, nil
}

// Close implements broker.MapStore.
func (st *memMapStore) Close() error {
	st.m.mu.Lock()
	defer st.m.mu.Unlock()
	delete(st.m.feeds, st)
	return nil
}

func (m *memMap) deliverLocked(c broker.MapChange) {
	for st := range m.feeds {
		st.feed.MapChange(c)
	}
}

// expireLocked removes the keys whose TTL has passed, each as an expire
// change, oldest expiry first.
func (m *memMap) expireLocked(now time.Time) {
	for len(m.due) > 0 && !m.due[0].at.After(now) {
		x := heap.Pop(&m.due).(expiry)
		if e := m.entries[x.key]; e == nil || e.rev != x.rev {
			continue // written again or deleted since
		}
		delete(m.entries, x.key)
		m.rev++
		m.deliverLocked(broker.MapChange{Rev: m.rev, Op: shared.MapOpExpire, Key: x.key})
	}
}

// armLocked sets the timer for the earliest expiry.
func (m *memMap) armLocked(now time.Time) {
	for len(m.due) > 0 { // drop stale items on top: the timer is for a live key
		if e := m.entries[m.due[0].key]; e != nil && e.rev == m.due[0].rev {
			break
		}
		heap.Pop(&m.due)
	}
	if m.stopped || len(m.due) == 0 || (m.timer != nil && m.timerAt.Equal(m.due[0].at)) {
		return
	}
	next := m.due[0].at
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerAt = next
	m.timer = time.AfterFunc(max(next.Sub(now), 0), m.fire)
}

// fire runs the expiries that are due and arms the next one.
func (m *memMap) fire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.timer = nil
	now := m.b.now()
	m.expireLocked(now)
	m.armLocked(now)
}

// close stops every map's expiry timer; no map can be opened afterwards.
func (b *memoryMaps) close() {
	b.mu.Lock()
	b.closed = true
	maps := make([]*memMap, 0, len(b.maps))
	for _, m := range b.maps {
		maps = append(maps, m)
	}
	b.mu.Unlock()
	for _, m := range maps {
		m.mu.Lock()
		m.stopped = true
		if m.timer != nil {
			m.timer.Stop()
		}
		m.mu.Unlock()
	}
}

// SetLast keeps p unless the slot holds a newer value.
func (b *memoryMaps) SetLast(ctx context.Context, room, slot string, p broker.Publication) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	slots := b.last[room]
	if slots == nil {
		slots = make(map[string]broker.Publication)
		b.last[room] = slots
	}
	if cur, ok := slots[slot]; !ok || broker.NewerPublication(p, cur) {
		slots[slot] = p
	}
	return nil
}

// Last returns room's last values, oldest first.
func (b *memoryMaps) Last(ctx context.Context, room string) ([]broker.Publication, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]broker.Publication, 0, len(b.last[room]))
	for _, p := range b.last[room] {
		out = append(out, p)
	}
	sortPublications(out)
	return out, nil
}

// sortPublications orders last values oldest first: by time, then seq.
func sortPublications(ps []broker.Publication) {
	slices.SortFunc(ps, func(a, b broker.Publication) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})
}
