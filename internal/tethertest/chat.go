package tethertest

import (
	"context"
	"fmt"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// InstallChat registers WithChat's handlers on s, a server of the
// test's own making.
func InstallChat(s *server.Server) {
	server.Handle(s, func(ctx context.Context, c *server.Conn, m testmsg.ChatSend) error {
		if !c.Joined(m.Room) {
			return notJoined(m.Room)
		}
		_, _, err := s.Publish(ctx, m.Room, testmsg.ChatMessage{
			Room: m.Room, User: c.User(), Name: c.Name(), Text: m.Text, Time: time.Now().UnixMilli(),
		})
		if err != nil {
			return fmt.Errorf("chat in %q: %w", m.Room, err)
		}
		return nil
	})
	server.Handle(s, func(ctx context.Context, c *server.Conn, m testmsg.ChatTyping) error {
		if !c.Joined(m.Room) {
			return notJoined(m.Room)
		}
		if err := s.PublishEphemeral(ctx, m.Room, testmsg.ChatTyping{Room: m.Room, User: c.User(), Name: c.Name()}); err != nil {
			return fmt.Errorf("typing in %q: %w", m.Room, err)
		}
		return nil
	})
}

// notJoined is the error for a room message from a connection outside it.
func notJoined(room string) *shared.Error {
	return &shared.Error{Code: shared.CodeNotJoined, Message: fmt.Sprintf("join room %q first", room), Field: "data.room"}
}
