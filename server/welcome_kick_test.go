package server_test

import (
	"context"
	"testing"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// TestKickRightAfterWelcome: a client that has read welcome is registered,
// so a kick (or a send to its user) issued at once reaches it. Before, the
// welcome could go out before the connection was registered and such a kick
// closed nobody.
func TestKickRightAfterWelcome(t *testing.T) {
	s := tethertest.NewServer(t, server.Config{MaxConnsPerUser: -1, MaxConnsPerIP: -1})
	for i := range 200 {
		ws, _ := s.Dial(t, "kickme")
		if n, err := s.Kick(context.Background(), "kickme", server.KickOptions{Reason: "at once"}); err != nil || n != 1 {
			t.Fatalf("attempt %d: Kick right after welcome closed %d connections (%v), want 1", i, n, err)
		}
		_ = ws.Close()
		tethertest.WaitUntil(t, "the kicked connection is gone", func() bool { return tethertest.Stats(t, s.Server).Connections == 0 })
	}
}
