package msg

import "github.com/tetherkit/tether/shared"

// ChatTyping says that a user is typing in a room. A client sends it with
// Room only, at most every few seconds while its user types; the server
// fills in User and Name and passes it to the room's other members as an
// ephemeral message: no seq, never in history, lost by whoever is not
// connected at that moment (docs/protocol.md §5). Clients show "… is
// typing" for a few seconds after the last one.
type ChatTyping struct {
	// Room is where the user types; the sender must have joined it.
	Room string `json:"room"`
	// User is the typing user's id (set by the server).
	User string `json:"user,omitempty"`
	// Name is the typing user's display name (set by the server).
	Name string `json:"name,omitempty"`
}

// MessageType implements shared.Message.
func (ChatTyping) MessageType() string { return "chat.typing" }

// Validate implements shared.Validator.
func (m ChatTyping) Validate() error { return shared.ValidRoom(m.Room) }
