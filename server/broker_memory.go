package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// memoryBroker is the single-node Broker, the default: rooms live in this
// process and are lost when it stops. Every event is delivered to the
// handler synchronously, under the room's lock, which gives the room its one
// order.
type memoryBroker struct {
	size int              // history size per room; 0: none
	ttl  time.Duration    // history TTL; <= 0: none
	now  func() time.Time // the clock of history

	h BrokerHandler // set by Register, before any other call

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
}

// memPresence is one user in a room, with their connections there.
type memPresence struct {
	member shared.Member
	conns  map[string]struct{}
}

func newMemoryBroker(size int, ttl time.Duration, now func() time.Time) *memoryBroker {
	return &memoryBroker{size: size, ttl: ttl, now: now, rooms: make(map[string]*memRoom)}
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

// unlockRoom releases r, forgetting it when it is empty: the next room of
// that name gets a new epoch.
func (b *memoryBroker) unlockRoom(r *memRoom) {
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
	defer b.unlockRoom(r)
	seq := r.head + 1
	payload, err := encode(seq)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish to %q: %w", room, err)
	}
	r.head = seq
	now := b.now()
	p := Publication{Epoch: r.epoch, Seq: seq, Type: typ, Payload: payload, Time: now}
	r.hist.expire(now)
	r.hist.add(p)
	res := PublishResult{Position: Position{Epoch: r.epoch, Seq: seq}}
	if r.subs > 0 {
		res.Reached = b.h.HandlePublication(room, p)
	}
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
