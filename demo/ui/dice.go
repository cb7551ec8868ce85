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
// server publishes becomes a line in the room (the dice feature's wire).

// dice is the dice feature: a roll published to a room the app is in
// becomes a line of the chat, drawn with the die icon.
type dice struct {
	noReset
	chat  *chatLog
	rooms *roomStore
}

// wire implements feature.
func (d *dice) wire(l login) {
	handleMeta(l, func(m msg.DiceRolled, meta client.Meta) { d.onRolled(m, meta, l.user()) })
}

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

// onRolled shows a roll as a line of its room; user is the signed-in
// user's id.
func (d *dice) onRolled(m msg.DiceRolled, meta client.Meta, user string) {
	room := orDefault(meta.Room, m.Room)
	info := d.rooms.info(room)
	if !info.known {
		return
	}
	d.chat.add(room, ChatLine{Seq: meta.Seq, User: m.User, Name: m.Name,
		Text: "rolled " + strconv.Itoa(m.Result) + " (d" + strconv.Itoa(m.Sides) + ")",
		Time: time.Now().UnixMilli(), // a roll carries no time: show when it arrived
		Mine: m.User == user, Dice: true}, info.forChat)
}
