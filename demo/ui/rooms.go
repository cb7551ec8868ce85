package ui

import (
	"context"
	"slices"
	"sync"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// historyOnJoin is how many chat messages are asked for when joining a room.
const historyOnJoin = 50

// historyFor is how many messages a join of room asks for: the chat's
// recent lines; none for the ticker, whose state (every symbol's last
// quote) comes with the join as last values (docs/protocol.md §10).
func historyFor(room string) int {
	if room == TickerRoom {
		return 0
	}
	return historyOnJoin
}

// purpose is why a room is joined. A room is left when its last purpose goes.
type purpose int

const (
	forChat    purpose = iota // listed in the chat page's rooms
	forTicker                 // the ticker page is open
	forDanmaku                // the danmaku page is open
)

// roomStore counts why the app is in each room, joins a room when its first
// purpose comes and leaves it when its last goes, and keeps the room's join
// state and members. It is the only one that calls Join and Leave.
type roomStore struct {
	changes

	// gone is called (without the lock) when a room is forgotten, so the
	// stores that keep per-room data drop theirs.
	gone func(name string)
	// joined is called (without the lock) with what a joined reply means
	// for the messages of a room the app is in, so the chat keeps or drops
	// the lines on screen.
	joined func(name string, kind joinedKind)

	mu    sync.Mutex
	cl    *client.Client // of the current login; nil while logged out
	rooms map[string]*room
}

// room is what the store knows about one room.
type room struct {
	purposes map[purpose]bool
	joining  bool   // a Join request is in flight
	joined   bool   // a joined reply arrived on the current connection
	failed   string // why the last join failed, if it did
	epoch    string
	members  []shared.Member
}

// joinedKind says what a joined reply means for the messages on screen.
type joinedKind int

const (
	joinedFresh     joinedKind = iota // a new join: the history follows
	joinedRecovered                   // a rejoin that replayed every message missed
	joinedGap                         // a rejoin that could not replay everything
	joinedRestarted                   // the room has a new epoch: old messages are void
)

func newRoomStore() *roomStore {
	return &roomStore{rooms: make(map[string]*room), gone: func(string) {}}
}

// roomLocked returns the room called name, creating it. rs.mu must be held.
func (rs *roomStore) roomLocked(name string) *room {
	r := rs.rooms[name]
	if r == nil {
		r = &room{purposes: make(map[purpose]bool)}
		rs.rooms[name] = r
	}
	return r
}

// wire implements feature: the store follows the login's connection and
// its joined replies and presence events, and joins the rooms wanted.
func (rs *roomStore) wire(l login) {
	l.cl.OnState(only(l.mine, func(st client.StateInfo) { rs.onState(l.cl, st) }))
	l.cl.OnJoined(only(l.mine, rs.onJoinedReply))
	handle(l, func(m shared.PresenceJoin) { rs.onPresence(m.Room, m.Member, true) })
	handle(l, func(m shared.PresenceLeave) { rs.onPresence(m.Room, m.Member, false) })
	rs.attach(l.ctx, l.cl)
}

// reset implements feature: see detach.
func (rs *roomStore) reset() { rs.detach() }

// onJoinedReply applies a joined reply and tells the chat what it means.
func (rs *roomStore) onJoinedReply(j shared.Joined) {
	if kind, ok := rs.onJoined(j); ok && rs.joined != nil {
		rs.joined(j.Room, kind)
	}
}

// attach starts using cl, the client of a new login: the lobby is wanted
// for chat, and every room a page is waiting for is joined.
func (rs *roomStore) attach(ctx context.Context, cl *client.Client) {
	rs.mu.Lock()
	rs.cl = cl
	rs.roomLocked("lobby").purposes[forChat] = true
	var names []string
	for name, r := range rs.rooms {
		if len(r.purposes) > 0 {
			r.joining = true
			names = append(names, name)
		}
	}
	rs.mu.Unlock()
	for _, name := range names {
		go rs.join(ctx, cl, name)
	}
	rs.changed()
}

// detach stops using the client at logout and forgets the chat's rooms.
// Pages keep their own rooms (ticker, danmaku) so that a later login joins
// them again.
func (rs *roomStore) detach() {
	rs.mu.Lock()
	rs.cl = nil
	var gone []string
	for name, r := range rs.rooms {
		delete(r.purposes, forChat)
		if len(r.purposes) == 0 {
			delete(rs.rooms, name)
			gone = append(gone, name)
			continue
		}
		*r = room{purposes: r.purposes}
	}
	rs.mu.Unlock()
	for _, name := range gone {
		rs.gone(name)
	}
	rs.changed()
}

// join joins name on cl; r.joining was set by the caller.
func (rs *roomStore) join(ctx context.Context, cl *client.Client, name string) {
	_, err := cl.Join(ctx, name, historyFor(name))
	rs.mu.Lock()
	r := rs.rooms[name]
	leave := err == nil // unless a page still wants the room
	forgotten := false
	if r != nil && rs.cl == cl {
		r.joining = false
		if err != nil {
			r.failed = errorText(err)
		}
		if len(r.purposes) > 0 {
			leave = false
		} else {
			delete(rs.rooms, name)
			forgotten = true
		}
	}
	rs.mu.Unlock()
	if forgotten {
		rs.gone(name)
	}
	if leave { // every page that wanted it went away meanwhile
		_ = cl.Leave(ctx, name)
	}
	rs.changed()
}

// acquire makes the app stay in room for p, joining it when it is the
// first reason and the app is logged in.
func (rs *roomStore) acquire(name string, p purpose) {
	rs.mu.Lock()
	r := rs.roomLocked(name)
	first := len(r.purposes) == 0
	r.purposes[p] = true
	cl := rs.cl
	start := first && cl != nil && !r.joining
	if start {
		r.joining, r.failed = true, ""
	}
	rs.mu.Unlock()
	if start {
		go rs.join(context.Background(), cl, name)
	}
	rs.changed()
}

// release drops reason p for room, leaving it when no reason is left.
func (rs *roomStore) release(name string, p purpose) {
	rs.mu.Lock()
	r := rs.rooms[name]
	if r == nil {
		rs.mu.Unlock()
		return
	}
	delete(r.purposes, p)
	cl := rs.cl
	// While a join is in flight, join itself leaves when it completes.
	gone := len(r.purposes) == 0 && !r.joining
	if gone {
		delete(rs.rooms, name)
	}
	rs.mu.Unlock()
	if gone {
		rs.gone(name)
		if cl != nil {
			go func() { _ = cl.Leave(context.Background(), name) }()
		}
	}
	rs.changed()
}

// onState follows the connection of cl. On a new connection it retries the
// joins that failed while there was none (the client itself rejoins the
// rooms it had joined); while there is none, no room is joined.
func (rs *roomStore) onState(cl *client.Client, st client.StateInfo) {
	rs.mu.Lock()
	var retry []string
	for name, r := range rs.rooms {
		switch {
		case st.State != client.Open:
			r.joined = false
		case r.failed != "" && !r.joining && len(r.purposes) > 0:
			r.joining, r.failed = true, ""
			retry = append(retry, name)
		}
	}
	rs.mu.Unlock()
	for _, name := range retry {
		go rs.join(context.Background(), cl, name)
	}
	rs.changed()
}

// onJoined applies a joined reply and says what it means for the room's
// messages; ok is false for a room the app is not in.
func (rs *roomStore) onJoined(j shared.Joined) (kind joinedKind, ok bool) {
	rs.mu.Lock()
	r := rs.rooms[j.Room]
	if r == nil {
		rs.mu.Unlock()
		return 0, false
	}
	switch {
	case r.joining:
		kind = joinedFresh
	case j.Epoch != r.epoch:
		kind = joinedRestarted
	case !j.Recovered:
		kind = joinedGap
	default:
		kind = joinedRecovered
	}
	r.epoch = j.Epoch
	r.joined = true
	r.failed = ""
	r.members = slices.Clone(j.Members)
	sortMembers(r.members)
	rs.mu.Unlock()
	rs.changed()
	return kind, true
}

// onPresence adds or removes a member of a room.
func (rs *roomStore) onPresence(name string, m shared.Member, arrived bool) {
	rs.mu.Lock()
	r := rs.rooms[name]
	if r == nil {
		rs.mu.Unlock()
		return
	}
	i := slices.IndexFunc(r.members, func(x shared.Member) bool { return x.User == m.User })
	switch {
	case arrived && i < 0:
		r.members = append(r.members, m)
		sortMembers(r.members)
	case arrived:
		r.members[i] = m
	case i >= 0:
		r.members = slices.Delete(r.members, i, i+1)
	}
	rs.mu.Unlock()
	rs.changed()
}

// roomInfo is a copy of what the store knows about one room.
type roomInfo struct {
	known   bool // the app is in the room for some purpose (or leaving it)
	forChat bool // the chat page lists it as joined
	joining bool
	joined  bool
	failed  string
	members []shared.Member
}

// info returns a copy of room name's state.
func (rs *roomStore) info(name string) roomInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.rooms[name]
	if r == nil {
		return roomInfo{}
	}
	return roomInfo{known: true, forChat: r.purposes[forChat], joining: r.joining, joined: r.joined,
		failed: r.failed, members: slices.Clone(r.members)}
}

// sortMembers orders members by user id, as the server does. An insertion
// sort: member lists are short and arrive sorted, and a generic sort would
// cost the wasm bundle about 15 KB.
func sortMembers(ms []shared.Member) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].User < ms[j-1].User; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// Members returns the members of any room the session is in.
func (s *Session) Members(name string) []shared.Member { return s.rooms.info(name).members }

// RoomState reports whether the session is joined to name, and the last
// join error.
func (s *Session) RoomState(name string) (ready bool, failed string) {
	r := s.rooms.info(name)
	return r.joined, r.failed
}
