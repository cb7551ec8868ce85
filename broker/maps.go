package broker

import (
	"context"
	"errors"
	"time"
)

// Maps is the keyed-state concern of a broker: the maps
// (docs/protocol.md §11) of one node, or of a cluster, with their
// revisions, conditional writes and per-key TTL. The contract:
//
//   - A map's revisions increase with every change (a set, a delete, an
//     expiry), and every node sees the same revision for the same change.
//   - A conditional write (IfRev) is one compare-and-set: of writers racing
//     on one revision, on one node or many, exactly one wins and the others
//     get ErrConflict, with nothing changed.
//   - A feed gets a snapshot, then every later change once, in revision
//     order, or a new snapshot: never a gap.
type Maps interface {
	// OpenMap opens the map name, creating it when needed, and starts its
	// feed to this node: feed gets the whole map once (MapSnapshot), then
	// every change after it (MapChange), in revision order, one at a time,
	// each once, with no gap; when the broker cannot keep that promise (its
	// feed had to start over) it calls MapSnapshot again with the whole map.
	// The feed runs until the returned store is closed.
	OpenMap(ctx context.Context, name string, feed MapFeed) (MapStore, error)
}

// MapFeed receives a map's snapshot and changes from its broker. Its
// methods must not block on the network nor call the broker.
type MapFeed interface {
	// MapSnapshot replaces the node's view of the map with s.
	MapSnapshot(s MapState)
	// MapChange applies one change after the current view.
	MapChange(c MapChange)
}

// MapStore is one open map of a MapBroker.
type MapStore interface {
	// Write sets or deletes a key and returns the change's revision. A
	// write whose IfRev does not hold fails with ErrConflict and changes
	// nothing.
	Write(ctx context.Context, w MapWrite) (uint64, error)
	// Close stops the feed.
	Close() error
}

// ErrConflict is returned by a conditional map write whose IfRev no longer
// holds: another write changed the key first. It is retryable.
var ErrConflict = errors.New("conflict: the key's revision moved")

// MapWrite is one write to a map.
type MapWrite struct {
	// Key is the key.
	Key string
	// Value is the new value's JSON; ignored by a delete.
	Value []byte
	// Delete removes the key instead of setting it.
	Delete bool
	// IfRev, when set, makes the write conditional on the key's current
	// revision being *IfRev (0: the key does not exist).
	IfRev *uint64
	// TTL, when positive, makes the key expire that long after the write
	// (a set only).
	TTL time.Duration
}

// MapState is a whole map at a revision.
type MapState struct {
	// Epoch identifies the map's life: revisions of another epoch say
	// nothing about these.
	Epoch string
	// Rev is the map's revision: its latest change's.
	Rev uint64
	// Entries are the keys, in no particular order.
	Entries []MapEntry
}

// MapEntry is a key of a map with its value and the revision that set it.
type MapEntry struct {
	Key   string
	Rev   uint64
	Value []byte
}

// MapChange is one change of a map.
type MapChange struct {
	// Rev is the change's revision, above every earlier one.
	Rev uint64
	// Op is shared.MapOpSet, MapOpDelete or MapOpExpire.
	Op string
	// Key is the key changed.
	Key string
	// Value is the new value of a set.
	Value []byte
}

// LastValues is the last-value concern of a broker (docs/protocol.md §10):
// a room's latest publication per slot (a type, or a type and a key),
// kept apart from the room's history and its bounds.
type LastValues interface {
	// SetLast keeps p as the last value of room's slot, unless the slot
	// holds a newer one (a higher seq of the same epoch, or a later time).
	SetLast(ctx context.Context, room, slot string, p Publication) error
	// Last returns room's last values, oldest first.
	Last(ctx context.Context, room string) ([]Publication, error)
}

// NewerPublication reports whether p should replace cur as a slot's last
// value: a higher seq in the same epoch, or a later time in another one.
func NewerPublication(p, cur Publication) bool {
	if p.Epoch == cur.Epoch {
		return p.Seq > cur.Seq
	}
	return !p.Time.Before(cur.Time)
}
