package natsbroker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/natsbroker"
	"github.com/tetherkit/tether/shared"
)

// nopHandler is a BrokerHandler that ignores everything.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, server.Publication) int { return 0 }
func (nopHandler) HandleEphemeral(string, []byte)                   {}
func (nopHandler) HandlePresence(string, server.PresenceEvent)      {}
func (nopHandler) HandleControl(server.Control) int                 { return 0 }
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
			return shared.Encode(shared.Envelope{Room: "lobby", Seq: seq}, shared.Notification{Title: fmt.Sprint(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(from, to uint64) []uint64 {
		var s []uint64
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	tests := []struct {
		name          string
		since, before uint64
		backwards     bool
		limit         int
		want          []uint64
	}{
		{"newest 5", 0, 0, true, 5, seqs(21, 25)},
		{"5 before 21", 0, 21, true, 5, seqs(16, 20)},
		{"10 before 9: only 6..8 kept", 0, 9, true, 10, seqs(6, 8)},
		{"before the oldest kept", 0, 6, true, 10, nil},
		{"before beyond the head", 0, 100, true, 3, seqs(23, 25)},
		{"no limit", 0, 0, true, 0, nil},
		{"3 since 10", 10, 0, false, 3, seqs(11, 13)},
		{"since 2: from the oldest kept", 2, 0, false, 3, seqs(6, 8)},
		{"since the head", 25, 0, false, 3, nil},
		{"since 20, limit over the rest", 20, 0, false, 50, seqs(21, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h server.History
			var err error
			if tt.backwards {
				h, err = b.HistoryBefore(ctx, "lobby", tt.before, tt.limit)
			} else {
				h, err = b.HistorySince(ctx, "lobby", tt.since, tt.limit)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, p := range h.Publications {
				got = append(got, p.Seq)
			}
			if !slices.Equal(got, tt.want) || h.Seq != 25 || h.Epoch == "" {
				t.Errorf("got seqs %v at head %d epoch %q, want %v at head 25", got, h.Seq, h.Epoch, tt.want)
			}
		})
	}
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
	if err := nodes[0].srv.PublishEphemeral("typing", shared.Notification{Title: "u0 is typing"}); err != nil {
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
