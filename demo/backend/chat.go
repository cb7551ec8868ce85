package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// chatHandler publishes a chat line to its room, which the sender must have
// joined.
func chatHandler(s *server.Server, now func() time.Time) func(context.Context, *server.Conn, msg.ChatSend) error {
	return func(ctx context.Context, c *server.Conn, m msg.ChatSend) error {
		if !c.Joined(m.Room) {
			return notJoined(m.Room)
		}
		_, _, err := s.Publish(ctx, m.Room, msg.ChatMessage{
			Room: m.Room,
			User: c.User(),
			Name: c.Name(),
			Text: m.Text,
			Time: now().UnixMilli(),
		})
		if err != nil {
			return fmt.Errorf("chat in %q: %w", m.Room, err)
		}
		return nil
	}
}

// notJoined is the error for a room message from a connection outside it.
func notJoined(room string) *shared.Error {
	return &shared.Error{Code: shared.CodeNotJoined, Message: fmt.Sprintf("join room %q first", room), Field: "data.room"}
}
