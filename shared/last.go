package shared

import "encoding/json"

// Last carries a room's last values to a joiner, right after Joined
// (docs/protocol.md §10): the latest publication of each configured type,
// or of each value of its key field. They are the room's state, not a
// replay: a client hands them to its handlers but does not move its resume
// position with their seqs.
type Last struct {
	// Room is the room.
	Room string `json:"room"`
	// Publications are the envelopes as they were published (with room and
	// seq), oldest first.
	Publications []json.RawMessage `json:"publications"`
}

// MessageType implements Message.
func (Last) MessageType() string { return "last" }
