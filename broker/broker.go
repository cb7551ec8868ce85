// Package broker is the contract between a Tether server and what carries
// its rooms: the room stream (seqs, history and live feed), presence, the
// messages between nodes, and the idempotency window of keyed requests. The
// server (package server) is written against these interfaces only and never
// asks which implementation it has: a single process is a one-node cluster.
//
// Two implementations come with Tether: broker/memory, one process with
// everything in memory (the server's default), and broker/nats, a cluster
// on NATS JetStream. broker/brokertest is the conformance suite every
// implementation runs; a third one (Redis, Postgres, …) runs it too.
//
// The contract every implementation keeps:
//
//   - Publish assigns a room's seqs consecutively from 1 within an epoch, and
//     the seq assignment and the history append are one atomic step per room:
//     a message is in the history from the moment its seq exists, and a seq
//     is never given twice or skipped.
//   - A room has one order: every node that subscribed to a room gets its
//     publications through Handler.HandlePublication one at a time, in seq
//     order, each once, with no gap, including the node that published it. A
//     broker that cannot fill a gap calls HandleReset instead, so that the
//     room's members resume (and learn whether they lost anything).
//   - A room's epoch is opened by exactly one node and stays while the room
//     has members or history; when the room is forgotten and used again, it
//     gets a new epoch and seqs start again at 1.
//   - Presence events fire once per room when a user's first connection
//     anywhere joins and when their last one leaves (or its node dies).
//   - A keyed request's key is claimed by exactly one run within its window;
//     every other claim of it gets that run's outcome.
//
// The package imports neither the server nor a WebSocket library: a broker
// depends on the contract, not on its host.
package broker

import "context"

// Broker carries the rooms of one or many Tether nodes. It is the four
// concerns below, each its own interface, plus the registration of the
// node's Handler. Its methods are safe for concurrent use. They must not be
// called from inside a Handler method; the handler must not block on the
// broker.
type Broker interface {
	// Register sets the handler of the node's events. The server calls it
	// once, before any other method.
	Register(h Handler)

	Stream
	PresenceManager
	Nodes
	IdempotencyStore
	Maps
	LastValues
}

// Stream is the room stream: publication with consecutive seqs, history,
// and the live feed of the rooms this node subscribed to.
type Stream interface {
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
}

// PresenceManager keeps who is in which room, on every node.
type PresenceManager interface {
	// AddPresence records that connection conn of member is in room;
	// RemovePresence that it left. The first connection of a user and the
	// removal of its last fire HandlePresence on every node subscribed to
	// the room.
	AddPresence(ctx context.Context, room, conn string, member Member) error
	RemovePresence(ctx context.Context, room, conn string) error
	// Presence returns the members of room, sorted by user; an error when
	// it cannot tell (never an empty list instead).
	Presence(ctx context.Context, room string) ([]Member, error)
}

// Nodes carries sends, kicks and queries between the nodes of a cluster. A
// single-node broker has no other node: Control reaches nobody and Gather
// asks nobody, without error.
type Nodes interface {
	// Control delivers c to every other node (HandleControl) and returns the
	// sum of their counts (how many connections it reached there; for
	// ControlUnban, how many nodes lifted a ban), as far as the nodes
	// answered before ctx was done.
	Control(ctx context.Context, c Control) (int, error)
	// Gather asks every other node the query kind (HandleQuery) and returns
	// their answers, and how many nodes were asked; fewer answers than nodes
	// means some did not answer before ctx was done.
	Gather(ctx context.Context, kind string) (answers [][]byte, nodes int, err error)
}

// Handler receives a node's events from its Broker. Its methods do not
// block on the network: they queue frames for connections. Which goroutine
// calls them is the broker's (each implementation's package doc says); a
// broker calls HandlePublication for one room from one goroutine at a time.
type Handler interface {
	// HandlePublication delivers a publication of a subscribed room to the
	// room's members on this node and returns how many it reached.
	HandlePublication(room string, p Publication) int
	// HandleEphemeral delivers an ephemeral message of a subscribed room.
	HandleEphemeral(room string, payload []byte)
	// HandlePresence delivers a presence change of a subscribed room.
	HandlePresence(room string, e PresenceEvent)
	// HandleControl acts on a control message from another node and returns
	// how many of this node's connections it reached (for ControlUnban: 1
	// if it lifted a ban in force, else 0).
	HandleControl(c Control) int
	// HandleQuery answers another node's Gather.
	HandleQuery(kind string) ([]byte, error)
	// HandleReset tells the node that the live feed of room lost messages
	// it could not recover: its members must resume.
	HandleReset(room string)
}
