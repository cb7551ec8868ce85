package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// hub is the registry of open connections, by id and by user, and the
// counter of connection slots per user and per client IP.
type hub struct {
	mu      sync.RWMutex
	closed  bool          // set by Shutdown: no new connections
	ticking bool          // the node's timer goroutine runs (Server.tickLoop)
	emptied chan struct{} // capacity 1: the last connection was removed
	conns   map[string]*Conn
	users   map[string]map[*Conn]struct{}
	// slotsByUser and slotsByIP count the admitted handshakes whose
	// ServeHTTP has not returned: upgrades under way and open connections.
	slotsByUser map[string]int
	slotsByIP   map[string]int
}

func newHub() hub {
	return hub{
		conns:       make(map[string]*Conn),
		users:       make(map[string]map[*Conn]struct{}),
		slotsByUser: make(map[string]int),
		slotsByIP:   make(map[string]int),
		emptied:     make(chan struct{}, 1),
	}
}

// admission is the hub's answer to a handshake.
type admission int

const (
	admitted     admission = iota
	shuttingDown           // the server is shutting down
	userFull               // the user has MaxConnsPerUser slots
	ipFull                 // the client IP has MaxConnsPerIP slots
)

// begin admits a handshake of user from ip: it takes a slot for each (a
// limit below 1 means unlimited) and counts the handshake in wg, unless the
// server is shutting down or a limit is reached. Doing it all under the
// hub's lock makes the limits exact under concurrent handshakes and
// guarantees Shutdown's wait sees every connection. An admitted handshake
// gives its slots back with end.
func (h *hub) begin(wg *sync.WaitGroup, user, ip string, maxPerUser, maxPerIP int) admission {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return shuttingDown
	case maxPerUser > 0 && h.slotsByUser[user] >= maxPerUser:
		return userFull
	case maxPerIP > 0 && h.slotsByIP[ip] >= maxPerIP:
		return ipFull
	}
	h.slotsByUser[user]++
	h.slotsByIP[ip]++
	wg.Add(1)
	return admitted
}

// end gives back the slots taken by begin.
func (h *hub) end(user, ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	release(h.slotsByUser, user)
	release(h.slotsByIP, ip)
}

// release decrements m[k], deleting it at zero so that the maps do not grow
// with every user and address ever seen.
func release(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// add registers c; false when the server is shutting down.
func (h *hub) add(c *Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c.id] = c // ids are 64 random bits: no collisions in practice
	set := h.users[c.user]
	if set == nil {
		set = make(map[*Conn]struct{})
		h.users[c.user] = set
	}
	set[c] = struct{}{}
	if !h.ticking {
		h.ticking = true
		c.srv.wg.Add(1) // within the connection's own count: Shutdown cannot be past its Wait
		go c.srv.tickLoop()
	}
	return true
}

// tick calls fn for every connection, and reports whether there are any:
// when there are none the timer goroutine returns, and the next add starts
// another.
func (h *hub) tick(fn func(*Conn)) bool {
	h.mu.RLock()
	for _, c := range h.conns {
		fn(c)
	}
	n := len(h.conns)
	h.mu.RUnlock()
	if n > 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) > 0 {
		return true
	}
	h.ticking = false
	return false
}

// remove unregisters c.
func (h *hub) remove(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c.id)
	if set := h.users[c.user]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.user)
		}
	}
	if len(h.conns) == 0 {
		select {
		case h.emptied <- struct{}{}: // the timer goroutine can return now
		default:
		}
	}
}

// shutdown refuses new connections and returns the open ones.
func (h *hub) shutdown() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return h.allLocked()
}

func (h *hub) get(id string) *Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

func (h *hub) byUser(user string) []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	conns := make([]*Conn, 0, len(h.users[user]))
	for c := range h.users[user] {
		conns = append(conns, c)
	}
	return conns
}

func (h *hub) all() []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.allLocked()
}

func (h *hub) allLocked() []*Conn {
	conns := make([]*Conn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	return conns
}

func (h *hub) counts() (conns, users int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns), len(h.users)
}

// Send queues m for the connection connID, on this node or, in a cluster,
// another one. It fails with ErrNotFound when there is no such connection,
// ErrClosed when it is closing, and with the broker's error when the other
// nodes could not be asked. A ctx without a deadline is bounded by 5s.
func (s *Server) Send(ctx context.Context, connID string, m shared.Message) error {
	if c := s.hub.get(connID); c != nil {
		return c.Send(m)
	}
	n, err := s.control(ctx, broker.Control{Kind: broker.ControlSendConn, Target: connID}, m)
	if err != nil {
		return fmt.Errorf("send to connection %q: %w", connID, err)
	}
	if n == 0 {
		return fmt.Errorf("send to connection %q: %w", connID, ErrNotFound)
	}
	return nil
}

// SendToUser queues m for every connection of user, on every node, and
// returns how many it reached. With an error it returns how many it reached
// all the same: this node's connections and those of the nodes that
// answered. A ctx without a deadline is bounded by 5s.
func (s *Server) SendToUser(ctx context.Context, user string, m shared.Message) (int, error) {
	n, err := s.sendTo(ctx, s.hub.byUser(user), broker.Control{Kind: broker.ControlSendUser, Target: user}, m)
	if err != nil {
		return n, fmt.Errorf("send to user %q: %w", user, err)
	}
	return n, nil
}

// Broadcast queues m for every connection, on every node, and returns how
// many it reached, as SendToUser does.
func (s *Server) Broadcast(ctx context.Context, m shared.Message) (int, error) {
	n, err := s.sendTo(ctx, s.hub.all(), broker.Control{Kind: broker.ControlBroadcast}, m)
	if err != nil {
		return n, fmt.Errorf("broadcast: %w", err)
	}
	return n, nil
}

// sendTo frames m once and queues it for conns, and has the broker carry it
// to the other nodes as c.
func (s *Server) sendTo(ctx context.Context, conns []*Conn, c broker.Control, m shared.Message) (int, error) {
	reached := 0
	if len(conns) > 0 {
		f, err := prepare(shared.Envelope{}, m)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", m.MessageType(), err)
		}
		reached = enqueueAll(conns, f)
	}
	n, err := s.control(ctx, c, m)
	return reached + n, err
}

// control sends c, carrying m when it is not nil, to the other nodes.
func (s *Server) control(ctx context.Context, c broker.Control, m shared.Message) (int, error) {
	if m != nil {
		b, err := shared.Encode(shared.Envelope{}, m)
		if err != nil {
			return 0, err
		}
		c.Type, c.Payload = m.MessageType(), b
	}
	ctx, cancel := brokerContext(ctx)
	defer cancel()
	return s.broker.Control(ctx, c)
}

// kickLocal kicks the connections of user on this node.
func (s *Server) kickLocal(user, reason string) int {
	conns := s.hub.byUser(user)
	if len(conns) == 0 {
		return 0
	}
	f, err := prepare(shared.Envelope{}, shared.Kicked{Reason: reason})
	if err != nil {
		s.log.Error("kick failed", "user", user, "err", err)
		return 0
	}
	closed := 0
	for _, c := range conns {
		if c.enqueue(f) != nil {
			continue
		}
		if c.startClose(closeRequest{code: shared.CloseKicked, reason: reason, send: true, flush: true}) {
			closed++
		}
	}
	s.log.Info("kicked", "user", user, "conns", closed, "reason", reason)
	return closed
}
