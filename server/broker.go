package server

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Broker carries the rooms of one or many Tether nodes: it assigns each
// room message its seq, keeps the rooms' history, feeds every node the
// messages of the rooms it subscribed to, and carries presence and control
// messages between nodes. The in-memory broker (Config.Broker nil) is the
// single-node default; server/natsbroker runs a cluster on NATS JetStream.
//
// The contract every implementation keeps:
//
//   - Publish assigns a room's seqs consecutively from 1 within an epoch, and
//     the seq assignment and the history append are one atomic step per room:
//     a message is in the history from the moment its seq exists, and a seq
//     is never given twice or skipped.
//   - A room has one order: every node that subscribed to a room gets its
//     publications through BrokerHandler.HandlePublication one at a time, in
//     seq order, each once, with no gap, including the node that published
//     it. A broker that cannot fill a gap calls HandleReset instead, so that
//     the room's members resume (and learn whether they lost anything).
//   - A room's epoch is opened by exactly one node and stays while the room
//     has members or history; when the room is forgotten and used again, it
//     gets a new epoch and seqs start again at 1.
//   - Presence events fire once per room when a user's first connection
//     anywhere joins and when their last one leaves (or its node dies).
//
// The methods are safe for concurrent use. They must not be called from
// inside a BrokerHandler method; the handler must not block on the broker.
type Broker interface {
	// Register sets the handler of the node's events. New calls it once,
	// before any other method.
	Register(h BrokerHandler)

	// Publish appends a message to room, opening the room when needed: it
	// assigns the next seq, calls encode with it for the payload to keep and
	// deliver (it may call encode again with another seq when it had to
	// retry), and returns the room's epoch and the seq.
	Publish(ctx context.Context, room, typ string, encode func(seq uint64) ([]byte, error)) (PublishResult, error)
	// PublishEphemeral delivers payload to the members of room on every node
	// now (HandleEphemeral): no seq, never in history, not delivered to a
	// node that is not subscribed to the room.
	PublishEphemeral(ctx context.Context, room string, payload []byte) error

	// Subscribe starts the room's live feed to this node; Unsubscribe stops
	// it. Subscriptions are counted: the feed stops when every Subscribe has
	// had its Unsubscribe.
	Subscribe(ctx context.Context, room string) error
	Unsubscribe(ctx context.Context, room string) error

	// HistorySince returns the room's kept publications with a seq above
	// since, oldest first, at most limit of them (the oldest ones), and the
	// room's position at the read. It opens the room when needed.
	HistorySince(ctx context.Context, room string, since uint64, limit int) (History, error)
	// HistoryBefore returns the newest limit kept publications with a seq
	// below before (0: the newest of all), oldest first, and the room's
	// position at the read. It opens the room when needed.
	HistoryBefore(ctx context.Context, room string, before uint64, limit int) (History, error)

	// AddPresence records that connection conn of member is in room;
	// RemovePresence that it left. The first connection of a user and the
	// removal of its last fire HandlePresence on every node subscribed to
	// the room.
	AddPresence(ctx context.Context, room, conn string, member shared.Member) error
	RemovePresence(ctx context.Context, room, conn string) error
	// Presence returns the members of room, sorted by user.
	Presence(ctx context.Context, room string) ([]shared.Member, error)

	// Control delivers c to every other node (HandleControl) and returns how
	// many connections it reached there, as far as the nodes answered before
	// ctx was done.
	Control(ctx context.Context, c Control) (int, error)
	// Gather asks every other node the query kind (HandleQuery) and returns
	// their answers, and how many nodes were asked; fewer answers than nodes
	// means some did not answer before ctx was done.
	Gather(ctx context.Context, kind string) (answers [][]byte, nodes int, err error)
}

// BrokerHandler receives a node's events from its Broker. Its methods do not
// block on the network: they queue frames for connections.
type BrokerHandler interface {
	// HandlePublication delivers a publication of a subscribed room to the
	// room's members on this node and returns how many it reached.
	HandlePublication(room string, p Publication) int
	// HandleEphemeral delivers an ephemeral message of a subscribed room.
	HandleEphemeral(room string, payload []byte)
	// HandlePresence delivers a presence change of a subscribed room.
	HandlePresence(room string, e PresenceEvent)
	// HandleControl acts on a control message from another node and returns
	// how many of this node's connections it reached.
	HandleControl(c Control) int
	// HandleQuery answers another node's Gather.
	HandleQuery(kind string) ([]byte, error)
	// HandleReset tells the node that the live feed of room lost messages
	// it could not recover: its members must resume.
	HandleReset(room string)
}

// Position is a place in a room's stream: its epoch and a seq.
type Position struct {
	// Epoch identifies the room's current life.
	Epoch string
	// Seq is a seq of that epoch; in a History, the room's head.
	Seq uint64
}

// PublishResult is what Publish did.
type PublishResult struct {
	// Position is the room's epoch and the seq assigned.
	Position
	// Reached is how many connections of this node the publication reached,
	// when the broker delivered it before Publish returned (the memory
	// broker always does); otherwise 0.
	Reached int
}

// Publication is one room message as a broker keeps and delivers it.
type Publication struct {
	// Epoch and Seq are the room's epoch and the message's seq.
	Epoch string
	Seq   uint64
	// Type is the message's type.
	Type string
	// Payload is the encoded envelope sent to clients, seq included.
	Payload []byte
	// Time is when it was published.
	Time time.Time
}

// History is an answer to HistorySince or HistoryBefore.
type History struct {
	// Position is the room's epoch and head (its last seq) at the read.
	Position
	// Publications are oldest first, with consecutive seqs.
	Publications []Publication
}

// PresenceEvent is a user's first connection joining a room or their last
// one leaving it.
type PresenceEvent struct {
	// Join is true for a join, false for a leave.
	Join bool
	// Member is the user.
	Member shared.Member
	// Conn is the connection that joined or left ("" when a node died): it
	// does not hear the event itself.
	Conn string
}

// ControlKind is what a Control message does.
type ControlKind string

// The control messages.
const (
	ControlSendConn  ControlKind = "conn"      // send Payload to connection Target
	ControlSendUser  ControlKind = "user"      // send Payload to every connection of user Target
	ControlBroadcast ControlKind = "broadcast" // send Payload to every connection
	ControlKick      ControlKind = "kick"      // kick user Target with Reason
	ControlUnban     ControlKind = "unban"     // lift the ban of user Target
)

// Control is a send or a kick for the connections of other nodes.
type Control struct {
	// Kind is what to do.
	Kind ControlKind `json:"kind"`
	// Target is the connection id or user id.
	Target string `json:"target,omitempty"`
	// Type is the message type of Payload.
	Type string `json:"type,omitempty"`
	// Payload is the encoded envelope to send.
	Payload []byte `json:"payload,omitempty"`
	// Reason is a kick's reason.
	Reason string `json:"reason,omitempty"`
	// BanUntil, on a kick with a ban, is when the ban ends: every node
	// refuses the user's handshakes until then (ban.go).
	BanUntil time.Time `json:"ban_until,omitzero"`
}

// brokerTimeout bounds a broker call made for a client request or an API
// call that has no context of its own.
const brokerTimeout = 5 * time.Second

// publishIDKey is the context key of a publication's deduplication id.
type publishIDKey struct{}

// WithPublishID returns ctx carrying id, the deduplication id of the one
// publication Broker.Publish makes with it. A broker whose Publish can fail
// after the message was kept (its acknowledgement lost: the NATS broker)
// keeps a publication with an id at most once within the idempotency window
// (DefaultIdempotencyTTL): a repeat returns the first one's position and is
// not delivered again. Server.Publish sets it for the publications of a
// keyed request; brokers that cannot fail that way may ignore it.
func WithPublishID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, publishIDKey{}, id)
}

// PublishID returns the deduplication id ctx carries for Broker.Publish
// (WithPublishID), "" for none.
func PublishID(ctx context.Context) string {
	id, _ := ctx.Value(publishIDKey{}).(string)
	return id
}

// keyedRunKey is the context key of the keyed request a handler runs.
type keyedRunKey struct{}

// keyedRunIDs numbers the publications of one run of a keyed request.
type keyedRunIDs struct {
	base string // the user and the key
	n    atomic.Uint64
}

// withKeyedRun returns the handler's ctx for a run of user's request with
// key: the publications it makes get ids base.1, base.2… in their order,
// the same ids when the request runs again after an unavailable answer.
func withKeyedRun(ctx context.Context, user, key string) context.Context {
	return context.WithValue(ctx, keyedRunKey{}, &keyedRunIDs{base: strconv.Itoa(len(user)) + ":" + user + ":" + key})
}

// nextPublishID is the id of the next publication of the keyed run in ctx,
// "" outside a keyed run.
func nextPublishID(ctx context.Context) string {
	r, _ := ctx.Value(keyedRunKey{}).(*keyedRunIDs)
	if r == nil {
		return ""
	}
	return r.base + ":" + strconv.FormatUint(r.n.Add(1), 10)
}
