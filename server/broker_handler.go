package server

import (
	"context"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// nodeHandler is the Server's broker.Handler: it hands the broker's events to
// this node's connections.
type nodeHandler struct{ s *Server }

// HandlePublication implements broker.Handler: it frames p once for this
// node and queues it to the room's members here.
func (h nodeHandler) HandlePublication(name string, p broker.Publication) int {
	r := h.s.rooms.get(name)
	if r == nil {
		return 0
	}
	f, err := prepareBytes(p.Type, p.Payload)
	if err != nil {
		h.s.log.Error("publication not framed", "room", name, "seq", p.Seq, "err", err)
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliver(f, p.Epoch, p.Seq, "", h.s.cfg.SendQueue)
}

// HandleEphemeral implements broker.Handler.
func (h nodeHandler) HandleEphemeral(name string, payload []byte) {
	r := h.s.rooms.get(name)
	if r == nil {
		return
	}
	f, err := prepareBytes("", payload)
	if err != nil {
		h.s.log.Error("ephemeral message not framed", "room", name, "err", err)
		return
	}
	if env, err := shared.DecodeEnvelope(payload); err == nil {
		f.typ = env.Type
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliver(f, "", 0, "", h.s.cfg.SendQueue)
}

// HandlePresence implements broker.Handler: the room's members here hear
// presence.join or presence.leave, except the connection that caused it.
func (h nodeHandler) HandlePresence(name string, e broker.PresenceEvent) {
	r := h.s.rooms.get(name)
	if r == nil {
		return
	}
	var m shared.Message = shared.PresenceLeave{Room: name, Member: e.Member}
	if e.Join {
		m = shared.PresenceJoin{Room: name, Member: e.Member}
	}
	f, err := prepare(shared.Envelope{Room: name}, m)
	if err != nil {
		return // presence messages always encode
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliver(f, "", 0, e.Conn, h.s.cfg.SendQueue)
}

// HandleControl implements broker.Handler.
func (h nodeHandler) HandleControl(c broker.Control) int {
	s := h.s
	switch c.Kind {
	case broker.ControlKick:
		if !c.BanUntil.IsZero() {
			s.bans.add(c.Target, ban{until: c.BanUntil, reason: c.Reason}, s.now())
		}
		return s.kickLocal(c.Target, c.Reason)
	case broker.ControlUnban:
		if s.bans.remove(c.Target, s.now()) {
			return 1
		}
		return 0
	case broker.ControlSendConn, broker.ControlSendUser, broker.ControlBroadcast:
	default:
		s.log.Warn("unknown control message", "kind", c.Kind)
		return 0
	}
	f, err := prepareBytes(c.Type, c.Payload)
	if err != nil {
		s.log.Error("control message not framed", "kind", c.Kind, "err", err)
		return 0
	}
	var conns []*Conn
	switch c.Kind {
	case broker.ControlSendConn:
		if conn := s.hub.get(c.Target); conn != nil {
			conns = []*Conn{conn}
		}
	case broker.ControlSendUser:
		conns = s.hub.byUser(c.Target)
	default:
		conns = s.hub.all()
	}
	return enqueueAll(conns, f)
}

// HandleReset implements broker.Handler: the room's members here are closed
// with 1001 so that they reconnect and resume, and learn from recovered
// whether they lost messages.
func (h nodeHandler) HandleReset(name string) {
	r := h.s.rooms.get(name)
	if r == nil {
		return
	}
	r.mu.Lock()
	conns := make([]*Conn, 0, len(r.members))
	for c := range r.members {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	h.s.log.Warn("room feed lost: members resume", "room", name, "conns", len(conns))
	for _, c := range conns {
		c.startClose(closeRequest{code: shared.CloseGoingAway, reason: "room feed lost", send: true, flush: true})
	}
}

// enqueueAll queues f to conns and returns how many took it.
func enqueueAll(conns []*Conn, f *outFrame) int {
	reached := 0
	for _, c := range conns {
		if c.enqueue(f) == nil {
			reached++
		}
	}
	return reached
}

// brokerTimeout bounds a broker call made for a client request, or for a
// caller whose context has no deadline.
const brokerTimeout = 5 * time.Second

// brokerContext returns ctx, bounded by brokerTimeout when it has no
// deadline of its own.
func brokerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, brokerTimeout)
}
