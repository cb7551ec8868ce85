package ui

import (
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
)

// This file is step 3 of README's "Add your own message type": the chat
// page's dice button sends msg.DiceRoll, and the msg.DiceRolled the
// server publishes becomes a line in the room (wired in Session.wire).

// diceSides is the die the button rolls.
const diceSides = 20

// diceButton rolls a die in the current room.
func diceButton(disabled bool, roll app.EventHandler) app.UI {
	return elem("button", "btn btn-ghost", append(flag("disabled", disabled),
		"type", "button", "id", "chat-dice", "title", "Roll a d20 for the room", "aria-label", "Roll a d20"),
		[]app.UI{icon("btn-icon", iconDice)}).OnClick(roll)
}

// roll queues a dice roll for the current room, in order with chat lines.
func (c *ChatPage) roll(app.Context, app.Event) {
	room := c.s.Chat().Current
	if room == "" {
		return
	}
	select {
	case c.queue <- msg.DiceRoll{Room: room, Sides: diceSides}:
	default:
		c.sendErr = "Too many messages waiting; slow down."
	}
}

// onDice shows a roll as a line of its room, drawn with the die icon.
func (s *Session) onDice(m msg.DiceRolled, meta client.Meta) {
	room := meta.Room
	if room == "" {
		room = m.Room
	}
	info := s.rooms.info(room)
	if !info.known {
		return
	}
	s.chat.add(room, ChatLine{Seq: meta.Seq, User: m.User, Name: m.Name,
		Text: "rolled " + strconv.Itoa(m.Result) + " (d" + strconv.Itoa(m.Sides) + ")",
		Time: time.Now().UnixMilli(), // a roll carries no time: show when it arrived
		Mine: m.User == s.Status().User, Dice: true}, info.forChat)
}
