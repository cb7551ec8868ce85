package backend

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
)

// Lanes is the number of horizontal lanes of a danmaku stage.
const Lanes = 8

// DefaultColor is the colour of a comment sent without one.
const DefaultColor = "#ffffff"

// danmaku publishes bullet comments, giving each room's comments lanes in
// turn so that consecutive ones do not overlap.
type danmaku struct {
	srv *server.Server

	mu   sync.Mutex
	next map[string]int // room → next lane
}

func newDanmaku(s *server.Server) *danmaku {
	return &danmaku{srv: s, next: make(map[string]int)}
}

// lane returns the next lane of room, round robin.
func (d *danmaku) lane(room string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.next[room]
	d.next[room] = (l + 1) % Lanes
	return l
}

// send is the danmaku.send handler.
func (d *danmaku) send(ctx context.Context, c *server.Conn, m msg.DanmakuSend) error {
	if !c.Joined(m.Room) {
		return notJoined(m.Room)
	}
	color := m.Color
	if color == "" {
		color = DefaultColor
	}
	_, _, err := d.srv.Publish(ctx, m.Room, msg.DanmakuComment{
		Room:  m.Room,
		User:  c.User(),
		Name:  c.Name(),
		Text:  m.Text,
		Color: color,
		Lane:  d.lane(m.Room),
	})
	if err != nil {
		return fmt.Errorf("danmaku in %q: %w", m.Room, err)
	}
	return nil
}
