// Package testmsg holds the message types the kit's own tests send: a chat
// (send, message, typing), notifications, ticker quotes, danmaku and a dice
// roll, with the same wire names as the demo app's (demo/msg) so that the
// tests read like the protocol document. The kit's tests use it instead of
// the demo's package, so that no kit package, tests included, depends on
// the demo; internal/tethertest installs chat handlers for them (WithChat).
package testmsg

import (
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// NewRegistry returns the system messages (shared.NewRegistry) and this
// package's types (Register).
func NewRegistry() *shared.Registry {
	r := shared.NewRegistry()
	Register(r)
	return r
}

// Register registers this package's types in r.
func Register(r *shared.Registry) {
	shared.Register[ChatSend](r)
	shared.Register[ChatMessage](r)
	shared.Register[Notification](r)
	shared.Register[TickerQuote](r)
	shared.Register[DanmakuSend](r)
	shared.Register[DanmakuComment](r)
	shared.Register[DiceRoll](r)
	shared.Register[DiceRolled](r)
	shared.Register[ChatTyping](r)
}

// Limits of user-typed text, in characters (Unicode code points: what the
// web app counts and says). The byte length is bounded too, at 4 bytes a
// character (see shared.TextTooLong).
const (
	// MaxTextLen bounds a chat message.
	MaxTextLen = 2000
	// MaxDanmakuLen bounds a danmaku comment.
	MaxDanmakuLen = 100
)

// ChatSend is what a client sends to say something in a room.
type ChatSend struct {
	// Room is the target room; the sender must have joined it.
	Room string `json:"room"`
	// Text is the message, 1 to MaxTextLen characters.
	Text string `json:"text"`
}

// MessageType implements shared.Message.
func (ChatSend) MessageType() string { return "chat.send" }

// Validate implements shared.Validator.
func (m ChatSend) Validate() error {
	if err := shared.ValidRoom(m.Room); err != nil {
		return err
	}
	return validText(m.Text, MaxTextLen)
}

// ChatMessage is a chat line as the server publishes it to a room.
type ChatMessage struct {
	// Room is the room it was said in.
	Room string `json:"room"`
	// User is the sender's user id.
	User string `json:"user"`
	// Name is the sender's display name.
	Name string `json:"name,omitempty"`
	// Text is the message.
	Text string `json:"text"`
	// Time is when the server accepted it, in Unix milliseconds.
	Time int64 `json:"time"`
}

// MessageType implements shared.Message.
func (ChatMessage) MessageType() string { return "chat.message" }

// Notification is pushed by the backend to users, e.g. through POST /api/push.
type Notification struct {
	// Title is the headline.
	Title string `json:"title"`
	// Body is the text under it.
	Body string `json:"body,omitempty"`
	// Level is one of "info", "success", "warning", "error"; empty means info.
	Level string `json:"level,omitempty"`
}

// MessageType implements shared.Message.
func (Notification) MessageType() string { return "notification" }

// Validate implements shared.Validator.
func (n Notification) Validate() error {
	if n.Title == "" {
		return &shared.FieldError{Field: "title", Problem: "is required"}
	}
	switch n.Level {
	case "", "info", "success", "warning", "error":
		return nil
	}
	return &shared.FieldError{Field: "level", Problem: fmt.Sprintf("is %q, want info, success, warning or error", n.Level)}
}

// TickerQuote is one price update of the live ticker feed.
type TickerQuote struct {
	// Symbol is the instrument, e.g. "ACME".
	Symbol string `json:"symbol"`
	// Price is the last price.
	Price float64 `json:"price"`
	// Change is the change since the feed's opening price, in percent.
	Change float64 `json:"change"`
	// Time is the quote time in Unix milliseconds.
	Time int64 `json:"time"`
}

// MessageType implements shared.Message.
func (TickerQuote) MessageType() string { return "ticker.quote" }

// Validate implements shared.Validator.
func (q TickerQuote) Validate() error {
	if q.Symbol == "" {
		return &shared.FieldError{Field: "symbol", Problem: "is required"}
	}
	return nil
}

// DanmakuSend is a bullet comment typed by a client for a room's stage.
type DanmakuSend struct {
	// Room is the stage's room.
	Room string `json:"room"`
	// Text is the comment, 1 to MaxDanmakuLen characters.
	Text string `json:"text"`
	// Color is a CSS hex colour such as "#ff0066"; empty means white.
	Color string `json:"color,omitempty"`
}

// MessageType implements shared.Message.
func (DanmakuSend) MessageType() string { return "danmaku.send" }

// Validate implements shared.Validator.
func (m DanmakuSend) Validate() error {
	if err := shared.ValidRoom(m.Room); err != nil {
		return err
	}
	if err := validText(m.Text, MaxDanmakuLen); err != nil {
		return err
	}
	return validColor(m.Color)
}

// DanmakuComment is a bullet comment as published to everyone in the room.
type DanmakuComment struct {
	// Room is the stage's room.
	Room string `json:"room"`
	// User is the author's user id.
	User string `json:"user"`
	// Name is the author's display name.
	Name string `json:"name,omitempty"`
	// Text is the comment.
	Text string `json:"text"`
	// Color is a CSS hex colour.
	Color string `json:"color"`
	// Lane is the horizontal lane (0 = top) the server chose so that
	// consecutive comments do not overlap.
	Lane int `json:"lane"`
}

// MessageType implements shared.Message.
func (DanmakuComment) MessageType() string { return "danmaku.comment" }

// validText checks a typed text field: required, at most maxChars
// characters.
func validText(s string, maxChars int) error {
	if s == "" {
		return &shared.FieldError{Field: "text", Problem: "is required"}
	}
	return shared.TextTooLong("text", s, maxChars)
}

func validColor(c string) error {
	if c == "" {
		return nil
	}
	if len(c) != 7 || c[0] != '#' {
		return &shared.FieldError{Field: "color", Problem: `must look like "#rrggbb"`}
	}
	for i := 1; i < 7; i++ {
		ch := c[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			return &shared.FieldError{Field: "color", Problem: `must look like "#rrggbb"`}
		}
	}
	return nil
}

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

// DiceRoll asks the server to roll a die for everyone in a room.
type DiceRoll struct {
	// Room is where the result is announced; the sender must have joined it.
	Room string `json:"room"`
	// Sides is the number of sides, 2 to 100; 0 means 6.
	Sides int `json:"sides,omitempty"`
}

// MessageType implements shared.Message.
func (DiceRoll) MessageType() string { return "dice.roll" }

// Validate implements shared.Validator.
func (m DiceRoll) Validate() error {
	if err := shared.ValidRoom(m.Room); err != nil {
		return err
	}
	if m.Sides != 0 && (m.Sides < 2 || m.Sides > 100) {
		return &shared.FieldError{Field: "sides", Problem: "must be from 2 to 100"}
	}
	return nil
}

// DiceRolled is the result, published to the room by the server.
type DiceRolled struct {
	// Room is the room.
	Room string `json:"room"`
	// User and Name say who rolled.
	User string `json:"user"`
	Name string `json:"name,omitempty"`
	// Sides is the die's number of sides.
	Sides int `json:"sides"`
	// Result is from 1 to Sides.
	Result int `json:"result"`
}

// MessageType implements shared.Message.
func (DiceRolled) MessageType() string { return "dice.rolled" }
