package shared

import (
	"encoding/json"
	"fmt"
)

// This file holds the messages of keyed-state rooms, "maps"
// (docs/protocol.md §11): a map from string keys to JSON values that every
// subscriber holds a copy of, kept in step by revisioned changes.

// registerMaps registers the map messages.
func registerMaps(r *Registry) {
	Register[MapSub](r)
	Register[MapSubscribed](r)
	Register[MapSnapshot](r)
	Register[MapChange](r)
	Register[MapUnsub](r)
	Register[MapSet](r)
	Register[MapDelete](r)
	Register[MapWritten](r)
}

// Limits of maps.
const (
	// MaxMapNameLen bounds a map's name.
	MaxMapNameLen = 64
	// MaxMapKeyLen bounds a key of a map.
	MaxMapKeyLen = 128
	// DefaultMapValueBytes bounds the JSON of a value in a client's write,
	// unless the server is configured otherwise.
	DefaultMapValueBytes = 16 << 10
	// MaxMapTTLMS bounds a write's TTL: 30 days.
	MaxMapTTLMS = 30 * 24 * 3600 * 1000
)

// The operations of a MapChange.
const (
	MapOpSet    = "set"    // the key was set to a value
	MapOpDelete = "delete" // the key was removed by a write
	MapOpExpire = "expire" // the key was removed by its TTL
)

// ValidMapName checks a map's name: 1 to MaxMapNameLen characters of
// [A-Za-z0-9_-].
func ValidMapName(name string) error {
	if name == "" {
		return &FieldError{Field: "map", Problem: "is required"}
	}
	if len(name) > MaxMapNameLen {
		return &FieldError{Field: "map", Problem: fmt.Sprintf("is longer than %d characters", MaxMapNameLen)}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '_' && c != '-' {
			return &FieldError{Field: "map", Problem: "may hold only letters, digits, '_' and '-'"}
		}
	}
	return nil
}

// ValidMapKey checks a key of a map: 1 to MaxMapKeyLen characters of
// [A-Za-z0-9_=/.-], not starting or ending with '.', without "..". (These
// are the keys NATS JetStream KV accepts, so that a map keeps its keys as
// they are in every broker.)
func ValidMapKey(key string) error {
	if key == "" {
		return &FieldError{Field: "key", Problem: "is required"}
	}
	if len(key) > MaxMapKeyLen {
		return &FieldError{Field: "key", Problem: fmt.Sprintf("is longer than %d characters", MaxMapKeyLen)}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !alnum(c) && c != '_' && c != '=' && c != '/' && c != '.' && c != '-' {
			return &FieldError{Field: "key", Problem: "may hold only letters, digits and _ = / . -"}
		}
		if c == '.' && (i == 0 || i == len(key)-1 || key[i-1] == '.') {
			return &FieldError{Field: "key", Problem: "may not start or end with '.' nor hold '..'"}
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validPosition checks that a resume position has both parts or neither.
func validPosition(epoch string, rev uint64) error {
	if (epoch == "") != (rev == 0) {
		return &FieldError{Field: "rev", Problem: "and epoch go together: give both to resume, or neither"}
	}
	return nil
}

// MapSub subscribes to a map (a request): the answer is MapSubscribed,
// followed by a snapshot or the changes since the given position, then the
// live changes.
type MapSub struct {
	// Map is the map's name.
	Map string `json:"map"`
	// Epoch and Rev are the client's position to resume from (both or
	// neither): the epoch and the revision of the last change or snapshot
	// it applied.
	Epoch string `json:"epoch,omitempty"`
	Rev   uint64 `json:"rev,omitempty"`
}

// MessageType implements Message.
func (MapSub) MessageType() string { return "map.sub" }

// Validate implements Validator.
func (m MapSub) Validate() error {
	if err := ValidMapName(m.Map); err != nil {
		return err
	}
	return validPosition(m.Epoch, m.Rev)
}

// MapSubscribed answers MapSub, or, without an id, restarts a
// subscription with a fresh snapshot. Pages MapSnapshot messages follow
// when Snapshot is set; otherwise Changes MapChange messages (the catch-up
// of a resume).
type MapSubscribed struct {
	// Map is the map.
	Map string `json:"map"`
	// Epoch and Rev are the map's position the subscription starts from.
	Epoch string `json:"epoch"`
	Rev   uint64 `json:"rev"`
	// Snapshot is set when a snapshot at Rev follows; the client replaces
	// its copy with it.
	Snapshot bool `json:"snapshot"`
	// Keys is the snapshot's number of entries.
	Keys int `json:"keys,omitempty"`
	// Pages is how many MapSnapshot messages follow.
	Pages int `json:"pages,omitempty"`
	// Changes is, without a snapshot, how many MapChange messages follow as
	// the catch-up of a resume.
	Changes int `json:"changes,omitempty"`
}

// MessageType implements Message.
func (MapSubscribed) MessageType() string { return "map.subscribed" }

// MapEntry is one key of a map with its value and the revision that set
// it.
type MapEntry struct {
	// Key is the key.
	Key string `json:"key"`
	// Rev is the revision of the change that set the value.
	Rev uint64 `json:"rev"`
	// Value is the value's JSON.
	Value json.RawMessage `json:"value"`
}

// MapSnapshot is one page of a map's snapshot at Rev.
type MapSnapshot struct {
	// Map is the map.
	Map string `json:"map"`
	// Epoch and Rev are the position of the snapshot.
	Epoch string `json:"epoch"`
	Rev   uint64 `json:"rev"`
	// Entries are this page's keys, sorted by key.
	Entries []MapEntry `json:"entries"`
	// More is set on every page but the last.
	More bool `json:"more,omitempty"`
}

// MessageType implements Message.
func (MapSnapshot) MessageType() string { return "map.snapshot" }

// MapChange is one change of a map: a set, a delete or an expiry.
type MapChange struct {
	// Map is the map.
	Map string `json:"map"`
	// Rev is the change's revision, above every earlier one of the map.
	Rev uint64 `json:"rev"`
	// Op is MapOpSet, MapOpDelete or MapOpExpire.
	Op string `json:"op"`
	// Key is the key changed.
	Key string `json:"key"`
	// Value is the new value of a set.
	Value json.RawMessage `json:"value,omitempty"`
}

// MessageType implements Message.
func (MapChange) MessageType() string { return "map.change" }

// MapUnsub ends a subscription to a map.
type MapUnsub struct {
	// Map is the map.
	Map string `json:"map"`
}

// MessageType implements Message.
func (MapUnsub) MessageType() string { return "map.unsub" }

// Validate implements Validator.
func (m MapUnsub) Validate() error { return ValidMapName(m.Map) }

// MapSet asks to set a key of a map (a request, answered by MapWritten);
// the server's write handler for the map decides.
type MapSet struct {
	// Map is the map.
	Map string `json:"map"`
	// Key is the key.
	Key string `json:"key"`
	// Value is the new value's JSON.
	Value json.RawMessage `json:"value"`
	// IfRev, when set, makes the write conditional on the key's current
	// revision being *IfRev (0: the key must not exist); otherwise the
	// answer is the error CodeConflict.
	IfRev *uint64 `json:"if_rev,omitempty"`
	// TTLMS, when set, makes the key expire that many milliseconds after
	// the write, unless written again.
	TTLMS int64 `json:"ttl_ms,omitempty"`
}

// MessageType implements Message.
func (MapSet) MessageType() string { return "map.set" }

// Validate implements Validator.
func (m MapSet) Validate() error {
	if err := ValidMapName(m.Map); err != nil {
		return err
	}
	if err := ValidMapKey(m.Key); err != nil {
		return err
	}
	if len(m.Value) == 0 {
		return &FieldError{Field: "value", Problem: "is required"}
	}
	if m.TTLMS < 0 || m.TTLMS > MaxMapTTLMS {
		return &FieldError{Field: "ttl_ms", Problem: "must be between 1 ms and 30 days (0 or omitted: none)"}
	}
	return nil
}

// MapDelete asks to delete a key of a map (a request, answered by
// MapWritten); the server's write handler for the map decides.
type MapDelete struct {
	// Map is the map.
	Map string `json:"map"`
	// Key is the key.
	Key string `json:"key"`
	// IfRev, when set, makes the delete conditional on the key's current
	// revision being *IfRev.
	IfRev *uint64 `json:"if_rev,omitempty"`
}

// MessageType implements Message.
func (MapDelete) MessageType() string { return "map.delete" }

// Validate implements Validator.
func (m MapDelete) Validate() error {
	if err := ValidMapName(m.Map); err != nil {
		return err
	}
	return ValidMapKey(m.Key)
}

// MapWritten answers a MapSet or MapDelete that was applied, with its
// revision.
type MapWritten struct {
	// Map is the map.
	Map string `json:"map"`
	// Key is the key written.
	Key string `json:"key"`
	// Rev is the write's revision.
	Rev uint64 `json:"rev"`
}

// MessageType implements Message.
func (MapWritten) MessageType() string { return "map.written" }
