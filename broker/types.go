package broker

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// Member is a user in a room's presence (the protocol's shared.Member).
type Member = shared.Member

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
	Member Member
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

// Control is a send, a kick or an unban for the other nodes.
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
	// refuses the user's handshakes until then.
	BanUntil time.Time `json:"ban_until,omitzero"`
}
