package natsbroker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// TestEphemeralAcrossNodes: an ephemeral message published on node a reaches
// the room's members on both nodes, without a seq, and is never replayed.
func TestEphemeralAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2, natsbroker.Config{}, server.Config{})
	got := make(chan string, 4)
	for i, n := range nodes {
		c := newClient(t, n, fmt.Sprintf("u%d", i))
		onNote(c, func(title string, seq uint64) { got <- fmt.Sprintf("%s seq %d", title, seq) })
		tethertest.Run(t, c)
		join(t, c, "typing", 0)
	}
	if err := nodes[0].srv.PublishEphemeral(context.Background(), "typing", testmsg.Notification{Title: "u0 is typing"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case g := <-got:
			if g != "u0 is typing seq 0" {
				t.Errorf("a member got %q, want the ephemeral message without seq", g)
			}
		case <-time.After(waitTime):
			t.Fatal("the ephemeral message did not reach both nodes' members")
		}
	}
	late := newClient(t, nodes[1], "late")
	tethertest.Run(t, late)
	if j := join(t, late, "typing", 10); j.Replayed != 0 {
		t.Errorf("a later join replayed %d messages, want 0: ephemeral messages are not history", j.Replayed)
	}
}
