package client

import (
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// Meta is what the envelope says about a message besides its data.
type Meta struct {
	// Room is the room of a room message; empty otherwise.
	Room string
	// Seq is the room's sequence number of the message; 0 outside rooms and
	// for presence events.
	Seq uint64
	// Last is set on a room's last value, handed over on join
	// (docs/protocol.md §10): the room's current state, not a message that
	// just happened nor a replay. Its Seq does not move the room's resume
	// position.
	Last bool
}

// handler is a registered typed handler, adapted to any message.
type handler func(m shared.Message, meta Meta)

// On registers fn for messages of type T pushed by the server. See OnMeta.
func On[T shared.Message](c *Client, fn func(T)) {
	OnMeta(c, func(m T, _ Meta) { fn(m) })
}

// OnMeta registers fn for messages of type T pushed by the server, with the
// room and seq they came with. Several handlers may be registered for a type;
// they are called in registration order, on the Run goroutine, one frame at a
// time in arrival order, and must not block (see the package documentation).
//
// Replies to requests (envelopes with an id) go to the waiting Request, not
// to handlers; joined replies are reported through OnJoined. Room messages
// already processed (seq not above the room's last seq) are dropped before
// handlers see them.
//
// OnMeta (and On) panics when T is not in the client's Registry: such a
// handler could never be called. server.Handle is as strict: a handler for
// a type the registry does not know is a mistake in the program, reported
// where it is made, at setup.
func OnMeta[T shared.Message](c *Client, fn func(T, Meta)) {
	typ := shared.TypeOf[T]()
	if !c.reg.Known(typ) {
		panic(fmt.Sprintf("client.On: message type %q is not in the client's registry (Config.Registry)", typ))
	}
	h := func(m shared.Message, meta Meta) {
		v, ok := m.(T)
		if !ok {
			c.log.Error("tether client: handler type does not match the registered type", "type", typ)
			return
		}
		fn(v, meta)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := c.handlers[typ]
	c.handlers[typ] = append(hs[:len(hs):len(hs)], h) // copy on write: the read goroutine may hold hs
}

// dispatch calls the handlers registered for env's type. m, when not nil, is
// env's already decoded message.
func (c *Client) dispatch(env shared.Envelope, m shared.Message) {
	if !c.reg.Known(env.Type) {
		c.log.Debug("tether client: ignoring message of unknown type", "type", env.Type)
		return
	}
	c.mu.Lock()
	hs := c.handlers[env.Type]
	c.mu.Unlock()
	if env.Type == shared.TypeOf[shared.Error]() {
		c.log.Debug("tether client: server reported an error", "data", string(env.Data))
	}
	if len(hs) == 0 {
		return
	}
	if m == nil {
		var err error
		if m, err = c.reg.Decode(env); err != nil {
			c.log.Warn("tether client: dropping undecodable message", "type", env.Type, "err", err)
			return
		}
	}
	c.callHandlers(hs, m, Meta{Room: env.Room, Seq: env.Seq})
}

// callHandlers calls hs with m.
func (c *Client) callHandlers(hs []handler, m shared.Message, meta Meta) {
	for _, h := range hs {
		h(m, meta)
	}
}

// handleLast hands a room's last values (docs/protocol.md §10) to the
// handlers of their types, marked Last, without moving the room's resume
// position. It runs on the read goroutine.
func (c *Client) handleLast(env shared.Envelope) {
	l, err := shared.Unmarshal[shared.Last](env)
	if err != nil {
		c.log.Warn("tether client: undecodable last", "err", err)
		return
	}
	c.mu.Lock()
	_, joined := c.rooms[l.Room]
	c.mu.Unlock()
	if !joined {
		return // left meanwhile
	}
	for _, raw := range l.Publications {
		pub, err := shared.DecodeEnvelope(raw)
		if err != nil || pub.Room != l.Room {
			c.log.Warn("tether client: dropping a malformed last value", "room", l.Room, "err", err)
			continue
		}
		if !c.reg.Known(pub.Type) {
			continue
		}
		c.mu.Lock()
		hs := c.handlers[pub.Type]
		c.mu.Unlock()
		if len(hs) == 0 {
			continue
		}
		m, err := c.reg.Decode(pub)
		if err != nil {
			c.log.Warn("tether client: dropping undecodable last value", "type", pub.Type, "err", err)
			continue
		}
		c.callHandlers(hs, m, Meta{Room: pub.Room, Seq: pub.Seq, Last: true})
	}
}
