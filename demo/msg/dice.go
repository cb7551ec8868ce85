package msg

import "github.com/tetherkit/tether/shared"

// This file is the worked example of README's "Add your own message type":
// a dice roll that the server performs, so that nobody can fake a result.

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
