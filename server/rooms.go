package server

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tetherkit/tether/shared"
)

// roomTable is the server's rooms by name.
type roomTable struct {
	mu sync.Mutex
	m  map[string]*room
}

func (t *roomTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// forget removes r from the table if it is still the room of its name.
func (t *roomTable) forget(r *room) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[r.name] == r {
		delete(t.m, r.name)
	}
}

// lockRoom returns the room called name with its lock held, creating it
// (with a fresh epoch) when create is set; nil when it does not exist and
// create is not set. The table's lock and a room's lock are never held
// together.
func (s *Server) lockRoom(name string, create bool) *room {
	for {
		s.rooms.mu.Lock()
		r := s.rooms.m[name]
		if r == nil {
			if !create {
				s.rooms.mu.Unlock()
				return nil
			}
			ttl := max(s.cfg.HistoryTTL, 0)
			r = newRoom(name, randomID(8), s.cfg.HistorySize, ttl)
			s.rooms.m[name] = r
		}
		s.rooms.mu.Unlock()
		r.mu.Lock()
		if !r.dead {
			return r
		}
		r.mu.Unlock()
		s.rooms.forget(r) // being forgotten by another goroutine; help it
	}
}

// unlockRoom releases r, forgetting it when it has no members and no
// history: the next room of that name gets a new epoch.
func (s *Server) unlockRoom(r *room) {
	forget := r.empty()
	if forget {
		r.dead = true
	}
	r.mu.Unlock()
	if forget {
		s.rooms.forget(r)
	}
}

// sweep drops expired history and forgets the rooms left empty.
func (s *Server) sweep() {
	s.rooms.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms.m))
	for _, r := range s.rooms.m {
		rooms = append(rooms, r)
	}
	s.rooms.mu.Unlock()
	now := s.now()
	for _, r := range rooms {
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue
		}
		r.hist.expire(now)
		s.unlockRoom(r)
	}
}

// Publish sends m to every member of room and keeps it in the room's
// history, creating the room if needed. It returns the seq assigned to m and
// how many connections it reached.
func (s *Server) Publish(room string, m shared.Message) (seq uint64, reached int, err error) {
	if err := shared.ValidRoom(room); err != nil {
		return 0, 0, fmt.Errorf("publish to %q: %w", room, err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return 0, 0, fmt.Errorf("publish %s to %q: %w", m.MessageType(), room, err)
	}
	r := s.lockRoom(room, true)
	defer s.unlockRoom(r)
	return r.publish(m.MessageType(), data, s.now())
}

// Presence returns the members of room, sorted by user; none when the room
// does not exist.
func (s *Server) Presence(room string) []shared.Member {
	r := s.lockRoom(room, false)
	if r == nil {
		return nil
	}
	defer s.unlockRoom(r)
	return r.memberList()
}

// join handles a join request from c.
func (s *Server) join(c *Conn, reqID uint64, j shared.Join) {
	if s.cfg.CanJoin != nil {
		if err := s.cfg.CanJoin(c, j.Room); err != nil {
			e := wireError(err)
			if e.Code == shared.CodeRejected {
				e.Code = shared.CodeForbidden
			}
			c.sendError(reqID, e)
			return
		}
	}
	r := s.lockRoom(j.Room, true)
	defer s.unlockRoom(r)
	if err := r.join(c, reqID, j, s.now()); err != nil {
		s.onError(c, fmt.Errorf("join %q: %w", j.Room, err))
	}
}

// leave handles a leave request from c. Leaving a room not joined is not an
// error: the answer is left all the same.
func (s *Server) leave(c *Conn, reqID uint64, l shared.Leave) {
	left := shared.Left(l)
	r := s.lockRoom(l.Room, false)
	if r == nil {
		_ = c.sendEnv(shared.Envelope{ID: reqID}, left)
		return
	}
	defer s.unlockRoom(r)
	r.leave(c)
	// Queued under the room's lock: nothing of the room follows left.
	_ = c.sendEnv(shared.Envelope{ID: reqID}, left)
}

// leaveAll removes a closed connection from its rooms.
func (s *Server) leaveAll(c *Conn) {
	for _, name := range c.Rooms() {
		if r := s.lockRoom(name, false); r != nil {
			r.leave(c)
			s.unlockRoom(r)
		}
	}
}
