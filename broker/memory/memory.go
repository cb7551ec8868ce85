package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// Broker is the single-node broker.Broker: rooms live in this process and
// are lost when it stops. Every event is delivered to the handler
// synchronously, on the goroutine of the call that caused it and under the
// room's lock, which gives the room its one order. Create it with New and
// stop it with Close.
type Broker struct {
	size      int              // history size per room; 0: none
	ttl       time.Duration    // history TTL; <= 0: none
	roomBytes int64            // history bytes per room; <= 0: no bound
	budget    int64            // history bytes of all rooms; <= 0: no bound
	now       func() time.Time // the clock of history and keys
	keys      *idempotency     // the idempotency window; nil: keys off

	h broker.Handler // set by Register, before any other call

	bytes   atomic.Int64  // history bytes of all rooms, as last settled
	trimmed atomic.Uint64 // messages dropped to keep within budget
	tick    atomic.Uint64 // publication counter: the rooms' order of activity
	trimMu  sync.Mutex    // one trim at a time; never waited for

	mu    sync.Mutex
	rooms map[string]*memRoom

	maps *memoryMaps // maps and last values (maps.go)

	stop     chan struct{} // closed by Close: stops the sweeper
	stopOnce sync.Once
	swept    sync.WaitGroup
}

// memRoom is one room of the memory broker. Its fields are guarded by mu.
type memRoom struct {
	mu       sync.Mutex
	name     string
	dead     bool   // forgotten; a new room of the same name may exist
	epoch    string // random, fixed at creation
	head     uint64 // last assigned seq
	hist     history
	subs     int                     // Subscribe calls not yet unsubscribed
	presence map[string]*memPresence // by user
	conns    map[string]string       // user by connection
	settled  int64                   // hist.bytes() as counted in the broker's bytes
	last     atomic.Uint64           // tick of the room's last publication
}

// memPresence is one user in a room, with their connections there.
type memPresence struct {
	member shared.Member
	conns  map[string]struct{}
}

// New returns a memory broker configured by cfg (see Config for the
// defaults; every value has a meaning). When its history has a TTL it runs
// a goroutine that forgets expired rooms; Close stops it.
func New(cfg Config) *Broker {
	cfg = cfg.withDefaults()
	b := &Broker{
		size:      max(cfg.HistorySize, 0),
		ttl:       max(cfg.HistoryTTL, 0),
		roomBytes: cfg.HistoryBytes,
		budget:    cfg.HistoryMemory,
		now:       cfg.Clock,
		rooms:     make(map[string]*memRoom),
		stop:      make(chan struct{}),
	}
	b.maps = newMemoryMaps(func() time.Time { return b.now() })
	if cfg.IdempotencyKeys > 0 {
		b.keys = newIdempotency(cfg.IdempotencyKeys, cfg.Clock)
	}
	if b.ttl > 0 {
		b.swept.Add(1)
		go b.sweepLoop(min(max(b.ttl/2, time.Second), time.Minute))
	}
	return b
}

// Close stops the broker's sweeper and waits for it. The broker keeps
// working, without forgetting expired rooms on its own. Calling it again
// does nothing.
func (b *Broker) Close() error {
	b.stopOnce.Do(func() { close(b.stop); b.maps.close() })
	b.swept.Wait()
	return nil
}

// sweepLoop forgets, every interval, the rooms that have no subscriber and
// no presence and whose history has expired, until Close.
func (b *Broker) sweepLoop(every time.Duration) {
	defer b.swept.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.sweep()
		}
	}
}

// Stats is what a memory broker holds.
type Stats struct {
	// Rooms is the number of rooms with a subscriber, presence or history.
	Rooms int `json:"rooms"`
	// HistoryBytes is the history of all rooms, in bytes as
	// Config.HistoryBytes counts them.
	HistoryBytes int64 `json:"history_bytes"`
	// HistoryBudget is Config.HistoryMemory; 0: none.
	HistoryBudget int64 `json:"history_budget"`
	// Trimmed counts the messages dropped to keep HistoryBytes within
	// HistoryBudget.
	Trimmed uint64 `json:"trimmed"`
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{Rooms: b.roomCount(), HistoryBytes: b.bytes.Load(), HistoryBudget: max(b.budget, 0), Trimmed: b.trimmed.Load()}
}

// settle brings the broker's byte count up to date with r's history.
// Called with r's lock held, after every change of its history.
func (b *Broker) settle(r *memRoom) {
	if n := r.hist.bytes(); n != r.settled {
		b.bytes.Add(n - r.settled)
		r.settled = n
	}
}

// keepBudget drops the history of the rooms that have gone longest
// without a publication, never except's, until the history bytes of all
// rooms are at most 90% of the budget. Called with no lock held; when
// another goroutine is trimming already, that one does it.
func (b *Broker) keepBudget(except *memRoom) {
	for b.budget > 0 && b.bytes.Load() > b.budget {
		if !b.trimMu.TryLock() {
			return // the trimming goroutine checks again once done
		}
		freed := b.trim(except, b.budget-b.budget/10)
		b.trimMu.Unlock()
		if !freed {
			return // only except's history is left
		}
	}
}

// trim drops whole histories, least recently published rooms first, until
// the count is at most low. It reports whether it dropped any. Called with
// trimMu held.
func (b *Broker) trim(except *memRoom, low int64) bool {
	b.mu.Lock()
	rooms := make([]*memRoom, 0, len(b.rooms))
	for _, r := range b.rooms {
		if r != except {
			rooms = append(rooms, r)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(rooms, func(x, y *memRoom) int { return cmp.Compare(x.last.Load(), y.last.Load()) })
	freed := false
	for _, r := range rooms {
		if b.bytes.Load() <= low {
			break
		}
		r.mu.Lock()
		if r.dead || r.hist.len() == 0 {
			r.mu.Unlock()
			continue
		}
		b.trimmed.Add(uint64(r.hist.drop()))
		freed = true
		b.unlockRoom(r)
	}
	return freed
}

// empty reports whether the room can be forgotten: no subscriber, no
// presence, no history.
func (r *memRoom) empty() bool {
	return r.subs == 0 && len(r.presence) == 0 && r.hist.len() == 0
}

// lockRoom returns the room called name with its lock held, creating it
// (with a fresh epoch) when create is set; nil when it does not exist and
// create is not set. The table's lock and a room's lock are never held
// together.
func (b *Broker) lockRoom(name string, create bool) *memRoom {
	for {
		b.mu.Lock()
		r := b.rooms[name]
		if r == nil {
			if !create {
				b.mu.Unlock()
				return nil
			}
			r = &memRoom{name: name, epoch: randomID(), hist: newHistory(b.size, b.ttl), presence: make(map[string]*memPresence), conns: make(map[string]string)}
			r.hist.maxBytes = b.roomBytes
			b.rooms[name] = r
		}
		b.mu.Unlock()
		r.mu.Lock()
		if !r.dead {
			return r
		}
		r.mu.Unlock()
		b.forget(r) // being forgotten by another goroutine; help it
	}
}

// unlockRoom settles r's byte count and releases r, forgetting it when it
// is empty: the next room of that name gets a new epoch.
func (b *Broker) unlockRoom(r *memRoom) {
	b.settle(r)
	forget := r.empty()
	if forget {
		r.dead = true
	}
	r.mu.Unlock()
	if forget {
		b.forget(r)
	}
}

// forget removes r from the table if it is still the room of its name.
func (b *Broker) forget(r *memRoom) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rooms[r.name] == r {
		delete(b.rooms, r.name)
	}
}

// roomCount is the number of rooms with a subscriber, presence or history.
func (b *Broker) roomCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rooms)
}

// sweep drops expired history and forgets the rooms left empty.
func (b *Broker) sweep() {
	b.mu.Lock()
	rooms := make([]*memRoom, 0, len(b.rooms))
	for _, r := range b.rooms {
		rooms = append(rooms, r)
	}
	b.mu.Unlock()
	now := b.now()
	for _, r := range rooms {
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue
		}
		r.hist.expire(now)
		b.unlockRoom(r)
	}
}

// Register implements broker.Broker.
func (b *Broker) Register(h broker.Handler) { b.h = h }

// Publish implements broker.Broker: the seq, the history append and the delivery
// happen under the room's lock.
func (b *Broker) Publish(_ context.Context, room, typ string, encode func(seq uint64) ([]byte, error)) (broker.PublishResult, error) {
	r := b.lockRoom(room, true)
	seq := r.head + 1
	payload, err := encode(seq)
	if err != nil {
		b.unlockRoom(r)
		return broker.PublishResult{}, fmt.Errorf("publish to %q: %w", room, err)
	}
	r.head = seq
	r.last.Store(b.tick.Add(1))
	now := b.now()
	p := broker.Publication{Epoch: r.epoch, Seq: seq, Type: typ, Payload: payload, Time: now}
	r.hist.expire(now)
	r.hist.add(p)
	res := broker.PublishResult{Position: broker.Position{Epoch: r.epoch, Seq: seq}}
	if r.subs > 0 {
		res.Reached = b.h.HandlePublication(room, p)
	}
	b.unlockRoom(r)
	b.keepBudget(r)
	return res, nil
}

// PublishEphemeral implements broker.Broker.
func (b *Broker) PublishEphemeral(_ context.Context, room string, payload []byte) error {
	r := b.lockRoom(room, false)
	if r == nil {
		return nil
	}
	defer b.unlockRoom(r)
	if r.subs > 0 {
		b.h.HandleEphemeral(room, payload)
	}
	return nil
}

// Subscribe implements broker.Broker.
func (b *Broker) Subscribe(_ context.Context, room string) error {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.subs++
	return nil
}

// Unsubscribe implements broker.Broker.
func (b *Broker) Unsubscribe(_ context.Context, room string) error {
	r := b.lockRoom(room, false)
	if r == nil {
		return nil
	}
	defer b.unlockRoom(r)
	if r.subs > 0 {
		r.subs--
	}
	return nil
}

// HistorySince implements broker.Broker.
func (b *Broker) HistorySince(_ context.Context, room string, since uint64, limit int) (broker.History, error) {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.hist.expire(b.now())
	return broker.History{Position: broker.Position{Epoch: r.epoch, Seq: r.head}, Publications: r.hist.since(since, limit)}, nil
}

// HistoryBefore implements broker.Broker.
func (b *Broker) HistoryBefore(_ context.Context, room string, before uint64, limit int) (broker.History, error) {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.hist.expire(b.now())
	return broker.History{Position: broker.Position{Epoch: r.epoch, Seq: r.head}, Publications: r.hist.before(before, limit)}, nil
}

// AddPresence implements broker.Broker.
func (b *Broker) AddPresence(_ context.Context, room, conn string, member shared.Member) error {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	p := r.presence[member.User]
	if p == nil {
		p = &memPresence{member: member, conns: make(map[string]struct{})}
		r.presence[member.User] = p
		if r.subs > 0 {
			b.h.HandlePresence(room, broker.PresenceEvent{Join: true, Member: member, Conn: conn})
		}
	}
	p.conns[conn] = struct{}{}
	r.conns[conn] = member.User
	return nil
}

// RemovePresence implements broker.Broker.
func (b *Broker) RemovePresence(_ context.Context, room, conn string) error {
	r := b.lockRoom(room, false)
	if r == nil {
		return nil
	}
	defer b.unlockRoom(r)
	user, ok := r.conns[conn]
	if !ok {
		return nil
	}
	delete(r.conns, conn)
	p := r.presence[user]
	delete(p.conns, conn)
	if len(p.conns) == 0 {
		delete(r.presence, user)
		if r.subs > 0 {
			b.h.HandlePresence(room, broker.PresenceEvent{Join: false, Member: p.member, Conn: conn})
		}
	}
	return nil
}

// Presence implements broker.Broker.
func (b *Broker) Presence(_ context.Context, room string) ([]shared.Member, error) {
	r := b.lockRoom(room, false)
	if r == nil {
		return nil, nil
	}
	defer b.unlockRoom(r)
	list := make([]shared.Member, 0, len(r.presence))
	for _, p := range r.presence {
		list = append(list, p.member)
	}
	slices.SortFunc(list, func(a, b shared.Member) int { return cmp.Compare(a.User, b.User) })
	return list, nil
}

// Control implements broker.Nodes: there is no other node.
func (b *Broker) Control(context.Context, broker.Control) (int, error) { return 0, nil }

// Gather implements broker.Nodes: there is no other node.
func (b *Broker) Gather(context.Context, string) ([][]byte, int, error) { return nil, 0, nil }
