// Package msg is the message contract of Tether's demo app: chat,
// notifications, the live ticker, danmaku, the dice roll (dice.go) and
// "… is typing" (typing.go). The demo's server (demo/backend) and its web
// app (demo/ui) both compile it, and build their registry with NewRegistry.
// It imports the kit's protocol package (shared) the way any app's own
// types package does.
package msg

import (
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// NewRegistry returns the demo's registry: the system messages
// (shared.NewRegistry) and the demo's types (Register). The demo's server
// and its clients are given it.
func NewRegistry() *shared.Registry {
	r := shared.NewRegistry()
	Register(r)
	return r
}

// Register registers the demo app's message types in r. To add a type to
// the demo, declare its struct (here or in a file of its own, like dice.go)
// and add one line below.
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
