package backend

import (
	"context"
	"fmt"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
)

// typingHandler passes "… is typing" to the room as an ephemeral message:
// members see it now, and it takes no seq and no place in the history.
func typingHandler(s *server.Server) func(context.Context, *server.Conn, msg.ChatTyping) error {
	return func(ctx context.Context, c *server.Conn, m msg.ChatTyping) error {
		if !c.Joined(m.Room) {
			return notJoined(m.Room)
		}
		if err := s.PublishEphemeral(ctx, m.Room, msg.ChatTyping{Room: m.Room, User: c.User(), Name: c.Name()}); err != nil {
			return fmt.Errorf("typing in %q: %w", m.Room, err)
		}
		return nil
	}
}
