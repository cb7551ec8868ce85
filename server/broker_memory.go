package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/shared"
)

// memoryBroker is the single-node Broker, the default: rooms live in this
// process and are lost when it stops. Every event is delivered to the
// handler synchronously, under the room's lock, which gives the room its one
// order.
type memoryBroker struct {
	size      int              // history size per room; 0: none
	ttl       time.Duration    // history TTL; <= 0: none
	roomBytes int64            // history bytes per room (history.bytes); <= 0: no bound
	budget    int64            // history bytes of all rooms; <= 0: no bound
	now       func() time.Time // the clock of history

	h BrokerHandler // set by Register, before any other call

	bytes   atomic.Int64  // history bytes of all rooms, as last settled
	trimmed atomic.Uint64 // messages dropped to keep within budget
	tick    atomic.Uint64 // publication counter: the rooms' order of activity
	trimMu  sync.Mutex    // one trim at a time; never waited for

	mu    sync.Mutex
	rooms map[string]*memRoom
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

func newMemoryBroker(size int, ttl time.Duration, now func() time.Time) *memoryBroker {
	return &memoryBroker{size: size, ttl: ttl, now: now, rooms: make(map[string]*memRoom)}
}

// setMemory bounds the history's memory: per room (roomBytes) and of all
// rooms (budget); <= 0: no bound. Call it before the broker is used.
func (b *memoryBroker) setMemory(roomBytes, budget int64) {
	b.roomBytes, b.budget = roomBytes, budget
}

// historyBytes is the memory held by every room's history; trimmed is how
// many messages were dropped to keep it within the budget.
func (b *memoryBroker) historyBytes() (bytes int64, trimmed uint64) {
	return b.bytes.Load(), b.trimmed.Load()
}

// settle brings the broker's byte count up to date with r's history.
// Called with r's lock held, after every change of its history.
func (b *memoryBroker) settle(r *memRoom) {
	if n := r.hist.bytes(); n != r.settled {
		b.bytes.Add(n - r.settled)
		r.settled = n
	}
}

// keepBudget drops the history of the rooms that have gone longest
// without a publication, never except's, until the history bytes of all
// rooms are at most 90% of the budget. Called with no lock held; when
// another goroutine is trimming already, that one does it.
func (b *memoryBroker) keepBudget(except *memRoom) {
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
func (b *memoryBroker) trim(except *memRoom, low int64) bool {
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
func (b *memoryBroker) lockRoom(name string, create bool) *memRoom {
	for {
		b.mu.Lock()
		r := b.rooms[name]
		if r == nil {
			if !create {
				b.mu.Unlock()
				return nil
			}
			r = &memRoom{name: name, epoch: randomID(8), hist: newHistory(b.size, b.ttl), presence: make(map[string]*memPresence), conns: make(map[string]string)}
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
func (b *memoryBroker) unlockRoom(r *memRoom) {
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
func (b *memoryBroker) forget(r *memRoom) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rooms[r.name] == r {
		delete(b.rooms, r.name)
	}
}

// roomCount is the number of rooms with a subscriber, presence or history.
func (b *memoryBroker) roomCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rooms)
}

// sweep drops expired history and forgets the rooms left empty.
func (b *memoryBroker) sweep() {
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

// Register implements Broker.
func (b *memoryBroker) Register(h BrokerHandler) { b.h = h }

// Publish implements Broker: the seq, the history append and the delivery
// happen under the room's lock.
func (b *memoryBroker) Publish(_ context.Context, room, typ string, encode func(seq uint64) ([]byte, error)) (PublishResult, error) {
	r := b.lockRoom(room, true)
	seq := r.head + 1
	payload, err := encode(seq)
	if err != nil {
		b.unlockRoom(r)
		return PublishResult{}, fmt.Errorf("publish to %q: %w", room, err)
	}
	r.head = seq
	r.last.Store(b.tick.Add(1))
	now := b.now()
	p := Publication{Epoch: r.epoch, Seq: seq, Type: typ, Payload: payload, Time: now}
	r.hist.expire(now)
	r.hist.add(p)
	res := PublishResult{Position: Position{Epoch: r.epoch, Seq: seq}}
	if r.subs > 0 {
		res.Reached = b.h.HandlePublication(room, p)
	}
	b.unlockRoom(r)
	b.keepBudget(r)
	return res, nil
}

// PublishEphemeral implements Broker.
func (b *memoryBroker) PublishEphemeral(_ context.Context, room string, payload []byte) error {
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

// Subscribe implements Broker.
func (b *memoryBroker) Subscribe(_ context.Context, room string) error {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.subs++
	return nil
}

// Unsubscribe implements Broker.
func (b *memoryBroker) Unsubscribe(_ context.Context, room string) error {
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

// HistorySince implements Broker.
func (b *memoryBroker) HistorySince(_ context.Context, room string, since uint64, limit int) (History, error) {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.hist.expire(b.now())
	return History{Position: Position{Epoch: r.epoch, Seq: r.head}, Publications: r.hist.since(since, limit)}, nil
}

// HistoryBefore implements Broker.
func (b *memoryBroker) HistoryBefore(_ context.Context, room string, before uint64, limit int) (History, error) {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	r.hist.expire(b.now())
	return History{Position: Position{Epoch: r.epoch, Seq: r.head}, Publications: r.hist.before(before, limit)}, nil
}

// AddPresence implements Broker.
func (b *memoryBroker) AddPresence(_ context.Context, room, conn string, member shared.Member) error {
	r := b.lockRoom(room, true)
	defer b.unlockRoom(r)
	p := r.presence[member.User]
	if p == nil {
		p = &memPresence{member: member, conns: make(map[string]struct{})}
		r.presence[member.User] = p
		if r.subs > 0 {
			b.h.HandlePresence(room, PresenceEvent{Join: true, Member: member, Conn: conn})
		}
	}
	p.conns[conn] = struct{}{}
	r.conns[conn] = member.User
	return nil
}

// RemovePresence implements Broker.
func (b *memoryBroker) RemovePresence(_ context.Context, room, conn string) error {
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
			b.h.HandlePresence(room, PresenceEvent{Join: false, Member: p.member, Conn: conn})
		}
	}
	return nil
}

// Presence implements Broker.
func (b *memoryBroker) Presence(_ context.Context, room string) ([]shared.Member, error) {
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

// Control implements Broker: there is no other node.
func (b *memoryBroker) Control(context.Context, Control) (int, error) { return 0, nil }

// Gather implements Broker: there is no other node.
func (b *memoryBroker) Gather(context.Context, string) ([][]byte, int, error) { return nil, 0, nil }
