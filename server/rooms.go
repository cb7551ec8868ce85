package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// roomTable is this node's rooms by name.
type roomTable struct {
	mu sync.Mutex
	m  map[string]*room
}

func (t *roomTable) get(name string) *room {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[name]
}

// acquireRoom returns this node's room called name, creating it, and takes
// a reference on it that releaseRoom gives back. The room is subscribed to
// its feed before acquireRoom returns.
func (s *Server) acquireRoom(ctx context.Context, name string) (*room, error) {
	s.rooms.mu.Lock()
	r := s.rooms.m[name]
	if r == nil {
		r = newRoom(name)
		s.rooms.m[name] = r
	}
	r.refs++
	s.rooms.mu.Unlock()

	r.subMu.Lock()
	defer r.subMu.Unlock()
	if !r.subscribed {
		if err := s.broker.Subscribe(ctx, name); err != nil {
			s.releaseRoomLocked(r)
			return nil, fmt.Errorf("subscribe to %q: %w", name, err)
		}
		r.subscribed = true
	}
	return r, nil
}

// releaseRoom gives back a reference taken by acquireRoom; the last one
// forgets the room on this node and unsubscribes it.
func (s *Server) releaseRoom(r *room) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	s.releaseRoomLocked(r)
}

// releaseRoomLocked is releaseRoom with r.subMu held.
func (s *Server) releaseRoomLocked(r *room) {
	s.rooms.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last && s.rooms.m[r.name] == r {
		delete(s.rooms.m, r.name)
	}
	s.rooms.mu.Unlock()
	if !last || !r.subscribed {
		return
	}
	r.subscribed = false
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if err := s.broker.Unsubscribe(ctx, r.name); err != nil {
		s.log.Warn("unsubscribe failed", "room", r.name, "err", err)
	}
}

// Publish sends m to every member of room and keeps it in the room's
// history, creating the room if needed. It returns the seq assigned to m and
// how many connections of this node it reached (in a cluster: 0 when the
// message had not reached this node's members when Publish returned). A ctx
// without a deadline is bounded by 5s.
//
// Called with the ctx a handler got for a keyed request (docs/protocol.md
// §3), the publication carries an id made of the user, the key and its
// place among the run's publications, and the broker keeps it at most once:
// when the request runs again after an unavailable answer, a message the
// first run published after all is not published twice. A broker failure
// is returned wrapped in ErrUnavailable.
func (s *Server) Publish(ctx context.Context, room string, m shared.Message) (seq uint64, reached int, err error) {
	if err := shared.ValidRoom(room); err != nil {
		return 0, 0, fmt.Errorf("publish to %q: %w", room, err)
	}
	typ := m.MessageType()
	data, err := json.Marshal(m)
	if err != nil {
		return 0, 0, fmt.Errorf("publish %s to %q: %w", typ, room, err)
	}
	ctx, cancel := brokerContext(ctx)
	defer cancel()
	if id := nextPublishID(ctx); id != "" {
		ctx = broker.WithPublishID(ctx, id)
	}
	res, err := s.broker.Publish(ctx, room, typ, func(seq uint64) ([]byte, error) {
		return shared.EncodeEnvelope(shared.Envelope{Type: typ, Room: room, Seq: seq, Data: data})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("publish %s: %w: %w", typ, ErrUnavailable, err)
	}
	if _, ok := s.lastValueOf(room, typ); ok {
		if payload, err := shared.EncodeEnvelope(shared.Envelope{Type: typ, Room: room, Seq: res.Seq, Data: data}); err == nil {
			s.keepLast(ctx, room, typ, data, payload, res)
		}
	}
	return res.Seq, res.Reached, nil
}

// PublishEphemeral sends m to the members of room on every node now, with
// no seq and without keeping it in history ("is typing" and the like): a
// member that is not connected at that moment never gets it. A ctx without
// a deadline is bounded by 5s. A broker failure is returned wrapped in
// ErrUnavailable.
func (s *Server) PublishEphemeral(ctx context.Context, room string, m shared.Message) error {
	if err := shared.ValidRoom(room); err != nil {
		return fmt.Errorf("publish to %q: %w", room, err)
	}
	b, err := shared.Encode(shared.Envelope{Room: room}, m)
	if err != nil {
		return fmt.Errorf("publish %s to %q: %w", m.MessageType(), room, err)
	}
	ctx, cancel := brokerContext(ctx)
	defer cancel()
	if err := s.broker.PublishEphemeral(ctx, room, b); err != nil {
		return fmt.Errorf("publish %s: %w: %w", m.MessageType(), ErrUnavailable, err)
	}
	return nil
}

// Presence returns the members of room on every node, sorted by user; none
// when the room does not exist. When the broker cannot answer it returns
// its error, never an empty list. A ctx without a deadline is bounded by
// 5s.
func (s *Server) Presence(ctx context.Context, room string) ([]shared.Member, error) {
	ctx, cancel := brokerContext(ctx)
	defer cancel()
	members, err := s.broker.Presence(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("presence of %q: %w", room, err)
	}
	return members, nil
}

// presenceList answers a presence.list request from c: the room's members,
// or unavailable when the broker cannot tell (docs/protocol.md §4).
func (s *Server) presenceList(c *Conn, reqID uint64, req shared.PresenceList) {
	ctx, cancel := context.WithTimeout(c.Context(), brokerTimeout)
	defer cancel()
	members, err := s.Presence(ctx, req.Room)
	if err != nil {
		s.onError(c, err)
		c.sendError(reqID, &shared.Error{Code: shared.CodeUnavailable, Message: "the room's members are not known now, ask again later"})
		return
	}
	_ = c.sendEnv(shared.Envelope{ID: reqID}, shared.PresenceList{Room: req.Room, Members: members})
}

// replay decides what a join gets after joined (docs/protocol.md §7):
// whether it recovered the position it asked for, and the room's position
// and the publications to send.
func (s *Server) replay(ctx context.Context, j shared.Join) (bool, broker.History, error) {
	if j.Since != nil {
		h, err := s.broker.HistorySince(ctx, j.Room, *j.Since, s.cfg.MaxReplay)
		if err != nil {
			return false, broker.History{}, err
		}
		if j.Epoch == h.Epoch && *j.Since <= h.Seq {
			if *j.Since == h.Seq {
				return true, broker.History{Position: h.Position}, nil
			}
			if n := len(h.Publications); n > 0 && h.Publications[0].Seq == *j.Since+1 && h.Publications[n-1].Seq == h.Seq {
				return true, h, nil
			}
		}
	}
	h, err := s.broker.HistoryBefore(ctx, j.Room, 0, min(j.History, s.cfg.MaxReplay))
	return false, h, err
}

// join handles a join request from c: it adds c to the room's members here
// (pending: the feed is kept for it), to the room's presence, reads the
// replay from the broker and then, under the room's lock, queues joined,
// the replay and what the feed brought meanwhile.
func (s *Server) join(c *Conn, reqID uint64, j shared.Join) {
	if s.cfg.CanJoin != nil {
		if err := s.cfg.CanJoin(c.Context(), JoinEvent{Conn: c, Room: j.Room}); err != nil {
			e := wireError(err)
			if e.Code == shared.CodeRejected {
				e.Code = shared.CodeForbidden
			}
			c.sendError(reqID, e)
			return
		}
	}
	if limit := s.cfg.MaxRoomsPerConn; limit > 0 && !c.Joined(j.Room) && len(c.Rooms()) >= limit {
		c.sendError(reqID, &shared.Error{Code: shared.CodeTooManyRooms, Field: "data.room",
			Message: fmt.Sprintf("This connection is in %d rooms, the most allowed: leave one before joining another.", limit)})
		return
	}
	ctx, cancel := context.WithTimeout(c.Context(), brokerTimeout)
	defer cancel()
	fail := func(err error) {
		s.log.Warn("join not done: the broker is unavailable", "conn", c.id, "user", c.user, "room", j.Room, "id", reqID, "err", err)
		s.onError(c, fmt.Errorf("join %q: %w", j.Room, err))
		c.sendError(reqID, &shared.Error{Code: shared.CodeUnavailable, Message: "the room is not available now: join again"})
	}
	r, err := s.acquireRoom(ctx, j.Room)
	if err != nil {
		fail(err)
		return
	}
	r.mu.Lock()
	m, rejoin := r.members[c]
	if !rejoin {
		m = &member{}
		r.members[c] = m
		c.addRoom(r.name)
	}
	m.pending, m.buf = true, nil
	r.mu.Unlock()
	if rejoin {
		s.releaseRoom(r) // the membership holds its reference already
	} else if err := s.broker.AddPresence(ctx, j.Room, c.id, c.Member()); err != nil {
		s.removeMember(r, c)
		fail(err)
		return
	}
	recovered, h, err := s.replay(ctx, j)
	if err != nil {
		s.removeMember(r, c)
		fail(err)
		return
	}
	var last []json.RawMessage
	if !recovered {
		if last, err = s.lastFor(ctx, j.Room, h); err != nil {
			s.removeMember(r, c)
			fail(err)
			return
		}
	}
	members, err := s.broker.Presence(ctx, j.Room)
	if err != nil {
		s.removeMember(r, c)
		fail(err)
		return
	}
	joined := shared.Joined{
		Room:      j.Room,
		Epoch:     h.Epoch,
		Seq:       h.Seq,
		Recovered: recovered,
		Replayed:  len(h.Publications),
		Last:      len(last),
		Members:   members,
	}
	r.mu.Lock()
	_, err = r.finishJoin(c, reqID, joined, last, h.Publications)
	r.mu.Unlock()
	if err != nil {
		s.onError(c, fmt.Errorf("join %q: %w", j.Room, err))
	}
}

// removeMember takes c out of r on this node and out of the room's
// presence, and gives back its reference. It reports whether c was a member.
func (s *Server) removeMember(r *room, c *Conn) bool {
	r.mu.Lock()
	_, ok := r.members[c]
	if ok {
		delete(r.members, c)
		c.dropRoom(r.name)
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	if err := s.broker.RemovePresence(ctx, r.name, c.id); err != nil {
		s.log.Warn("presence remove failed", "room", r.name, "conn", c.id, "err", err)
	}
	s.releaseRoom(r)
	return true
}

// leave handles a leave request from c. Leaving a room not joined is not an
// error: the answer is left all the same. Nothing of the room follows left:
// c is no longer a member when it is queued.
func (s *Server) leave(c *Conn, reqID uint64, l shared.Leave) {
	if r := s.rooms.get(l.Room); r != nil {
		s.removeMember(r, c)
	}
	_ = c.sendEnv(shared.Envelope{ID: reqID}, shared.Left(l))
}

// leaveAll removes a closed connection from its rooms.
func (s *Server) leaveAll(c *Conn) {
	for _, name := range c.Rooms() {
		if r := s.rooms.get(name); r != nil {
			s.removeMember(r, c)
		}
	}
}
