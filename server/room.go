package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/shared"
)

// room is one room: its sequence, history, members and presence. Every
// method is called with mu held.
type room struct {
	mu       sync.Mutex
	name     string
	dead     bool   // forgotten; a new room of the same name may exist
	epoch    string // random, fixed at creation
	head     uint64 // last assigned seq
	hist     history
	members  map[*Conn]struct{}
	presence map[string]*presence // by user
}

// presence is one user in a room, with how many of their connections joined.
type presence struct {
	member shared.Member
	conns  int
}

func newRoom(name, epoch string, historySize int, historyTTL time.Duration) *room {
	return &room{
		name:     name,
		epoch:    epoch,
		hist:     newHistory(historySize, historyTTL),
		members:  make(map[*Conn]struct{}),
		presence: make(map[string]*presence),
	}
}

// empty reports whether the room can be forgotten: no members, no history.
func (r *room) empty() bool { return len(r.members) == 0 && r.hist.len() == 0 }

// publish assigns the next seq to a message, keeps it in the history and
// queues it to every member. It returns the seq and how many members it
// reached.
func (r *room) publish(typ string, data json.RawMessage, now time.Time) (uint64, int, error) {
	seq := r.head + 1
	b, err := shared.EncodeEnvelope(shared.Envelope{Type: typ, Room: r.name, Seq: seq, Data: data})
	if err != nil {
		return 0, 0, fmt.Errorf("publish to %q: %w", r.name, err)
	}
	f, err := prepareBytes(typ, b)
	if err != nil {
		return 0, 0, fmt.Errorf("publish to %q: %w", r.name, err)
	}
	r.head = seq
	r.hist.expire(now)
	r.hist.add(entry{seq: seq, at: now, frame: f})
	reached := 0
	for c := range r.members {
		if c.enqueue(f) == nil {
			reached++
		}
	}
	return seq, reached, nil
}

// replay decides what a join gets after joined (docs/protocol.md §7):
// whether it recovered the position it asked for, and the messages to send.
func (r *room) replay(j shared.Join, now time.Time) (recovered bool, msgs []entry) {
	r.hist.expire(now)
	if j.Since != nil && j.Epoch == r.epoch && *j.Since <= r.head {
		if msgs, ok := r.hist.after(*j.Since, r.head); ok {
			return true, msgs
		}
	}
	return false, r.hist.last(min(j.History, r.hist.size))
}

// join adds c to the room and queues, in this order and under the room's
// lock, joined (with the request id) and the replayed messages (as one batch)
// to c, so that
// the first live message follows the replay without gap or repeat. The
// other members hear presence.join when this is the user's first connection
// in the room.
func (r *room) join(c *Conn, reqID uint64, j shared.Join, now time.Time) error {
	recovered, msgs := r.replay(j, now)
	if _, ok := r.members[c]; !ok {
		r.members[c] = struct{}{}
		c.addRoom(r.name)
		p := r.presence[c.user]
		if p == nil {
			p = &presence{member: c.Member()}
			r.presence[c.user] = p
			r.announce(c, shared.PresenceJoin{Room: r.name, Member: p.member})
		}
		p.conns++
	}
	joined := shared.Joined{
		Room:      r.name,
		Epoch:     r.epoch,
		Seq:       r.head,
		Recovered: recovered,
		Replayed:  len(msgs),
		Members:   r.memberList(),
	}
	if err := c.sendEnv(shared.Envelope{ID: reqID}, joined); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	// One queue slot for the whole replay: it is bounded by the history, and
	// must not trip the slow-consumer cap of a client that is just resuming.
	batch := make([]*outFrame, len(msgs))
	for i, e := range msgs {
		batch[i] = e.frame
	}
	return c.enqueue(&outFrame{batch: batch})
}

// leave removes c from the room. The other members hear presence.leave when
// this was the user's last connection in the room. It reports whether c was
// a member.
func (r *room) leave(c *Conn) bool {
	if _, ok := r.members[c]; !ok {
		return false
	}
	delete(r.members, c)
	c.dropRoom(r.name)
	if p := r.presence[c.user]; p != nil {
		p.conns--
		if p.conns <= 0 {
			delete(r.presence, c.user)
			r.announce(c, shared.PresenceLeave{Room: r.name, Member: p.member})
		}
	}
	return true
}

// announce queues a presence event (no seq, not kept in history) to every
// member but except, framing it once.
func (r *room) announce(except *Conn, m shared.Message) {
	var f *outFrame
	for c := range r.members {
		if c == except {
			continue
		}
		if f == nil {
			var err error
			if f, err = prepare(shared.Envelope{Room: r.name}, m); err != nil {
				return // presence messages always encode
			}
		}
		_ = c.enqueue(f)
	}
}

// memberList returns the room's presence sorted by user.
func (r *room) memberList() []shared.Member {
	list := make([]shared.Member, 0, len(r.presence))
	for _, p := range r.presence {
		list = append(list, p.member)
	}
	slices.SortFunc(list, func(a, b shared.Member) int { return cmp.Compare(a.User, b.User) })
	return list
}
