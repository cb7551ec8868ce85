package natsbroker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/internal/brokertest"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// nopHandler is a BrokerHandler that ignores everything.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, broker.Publication) int { return 0 }
func (nopHandler) HandleEphemeral(string, []byte)                   {}
func (nopHandler) HandlePresence(string, broker.PresenceEvent)      {}
func (nopHandler) HandleControl(broker.Control) int                 { return 0 }
func (nopHandler) HandleQuery(string) ([]byte, error)               { return nil, nil }
func (nopHandler) HandleReset(string)                               {}

// TestHistoryPages pages a room's history in the stream forwards
// (HistorySince) and backwards (HistoryBefore).
func TestHistoryPages(t *testing.T) {
	nc := connectNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	b, err := natsbroker.New(ctx, natsbroker.Config{Conn: nc, HistorySize: 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Register(nopHandler{})
	for i := range 25 { // keeps 6..25
		_, err := b.Publish(ctx, "lobby", "notification", func(seq uint64) ([]byte, error) {
			return shared.Encode(shared.Envelope{Room: "lobby", Seq: seq}, testmsg.Notification{Title: fmt.Sprint(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	brokertest.HistoryPages(t, ctx, brokertest.Pages[broker.History]{
		Since: b.HistorySince, Before: b.HistoryBefore,
		Read: func(h broker.History) (s []uint64, head uint64, epoch string) {
			for _, p := range h.Publications {
				s = append(s, p.Seq)
			}
			return s, h.Seq, h.Epoch
		},
	})
}

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
