package server

import (
	"encoding/json"
	"sync"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// room is this node's side of a room: its members here and the fan-out of
// the room's feed to them. The room's seq, history and presence are the
// broker's. A room exists on a node while a member or a join holds it.
type room struct {
	name string

	refs int // members and joins under way; guarded by the roomTable's lock

	// subMu orders Subscribe and Unsubscribe of this room object; it is never
	// held by the delivery path.
	subMu      sync.Mutex
	subscribed bool

	mu      sync.Mutex
	members map[*Conn]*member
}

// member is one connection in a room on this node.
type member struct {
	// pending is set while the connection joins: what the room's feed
	// delivers meanwhile is kept in buf and sent after the replay.
	pending bool
	buf     []pendingFrame
	// overflow is set when buf outgrew the send queue while pending.
	overflow bool
	// epoch and from are the position the member has been sent up to: a
	// publication of that epoch with a seq not above from was in its replay.
	epoch string
	from  uint64
}

// pendingFrame is one frame kept for a joining member; seq is 0 for a frame
// without one (presence, ephemeral).
type pendingFrame struct {
	epoch string
	seq   uint64
	frame *outFrame
}

func newRoom(name string) *room {
	return &room{name: name, members: make(map[*Conn]*member)}
}

// deliver queues f to every member but except ("" for none) and returns how
// many it reached; pending members keep it. A publication (seq > 0) is not
// sent again to a member whose replay had it. Called with mu held.
func (r *room) deliver(f *outFrame, epoch string, seq uint64, except string, limit int) int {
	reached := 0
	for c, m := range r.members {
		if c.id == except {
			continue
		}
		if m.pending {
			if len(m.buf) >= limit {
				m.overflow = true
				continue
			}
			m.buf = append(m.buf, pendingFrame{epoch: epoch, seq: seq, frame: f})
			reached++
			continue
		}
		if seq > 0 && epoch == m.epoch && seq <= m.from {
			continue
		}
		if seq > 0 {
			m.epoch, m.from = epoch, seq
		}
		if c.enqueue(f) == nil {
			reached++
		}
	}
	return reached
}

// finishJoin queues to c, under mu, joined, the replay and what the feed
// delivered during the join that the replay did not have, as one batch, so
// that the first live message follows the replay without gap or repeat.
// It reports false when c's buffer overflowed (c is then closed as a slow
// consumer).
func (r *room) finishJoin(c *Conn, reqID uint64, joined shared.Joined, last []json.RawMessage, replay []broker.Publication) (bool, error) {
	m := r.members[c]
	if m == nil {
		return true, nil // left meanwhile
	}
	buf, overflow := m.buf, m.overflow
	m.pending, m.buf, m.overflow = false, nil, false
	m.epoch, m.from = joined.Epoch, joined.Seq
	if overflow {
		c.startClose(closeRequest{code: shared.CloseSlowConsumer, reason: "slow consumer", send: true})
		return false, nil
	}
	if err := c.sendEnv(shared.Envelope{ID: reqID}, joined); err != nil {
		return true, err
	}
	batch := make([]*outFrame, 0, 1+len(replay)+len(buf))
	if len(last) > 0 {
		f, err := encode(shared.Envelope{Room: r.name}, shared.Last{Room: r.name, Publications: last})
		if err != nil {
			return true, err
		}
		batch = append(batch, f)
	}
	for _, p := range replay {
		batch = append(batch, &outFrame{raw: p.Payload, typ: p.Type, size: len(p.Payload)})
	}
	for _, pf := range buf {
		if pf.seq > 0 {
			if pf.epoch != m.epoch || pf.seq <= m.from {
				continue // in the replay, or of an epoch the client has not joined
			}
			m.from = pf.seq
		}
		batch = append(batch, pf.frame)
	}
	if len(batch) == 0 {
		return true, nil
	}
	// One queue slot for the whole replay: it is bounded by the history, and
	// must not trip the slow-consumer cap of a client that is just resuming.
	return true, c.enqueue(&outFrame{batch: batch})
}
