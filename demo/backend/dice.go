package backend

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
)

// diceHandler rolls on the server, so that no client can fake a result, and
// publishes it to the room (README: "Add your own message type", step 2).
func diceHandler(s *server.Server) func(context.Context, *server.Conn, msg.DiceRoll) error {
	return func(ctx context.Context, c *server.Conn, m msg.DiceRoll) error {
		if !c.Joined(m.Room) {
			return notJoined(m.Room)
		}
		sides := m.Sides
		if sides == 0 {
			sides = 6
		}
		_, _, err := s.Publish(ctx, m.Room, msg.DiceRolled{
			Room: m.Room, User: c.User(), Name: c.Name(),
			Sides: sides, Result: 1 + rand.IntN(sides),
		})
		if err != nil {
			return fmt.Errorf("dice in %q: %w", m.Room, err)
		}
		return nil
	}
}
