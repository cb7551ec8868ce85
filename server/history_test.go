package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/shared"
)

// fakeClock is a manual clock for the history TTL.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func ptr[T any](v T) *T { return &v }

// TestReplayRules is the recovery table of docs/protocol.md §7.
func TestReplayRules(t *testing.T) {
	const epoch = "e1"
	tests := []struct {
		name          string
		published     int
		since         *uint64 // nil: fresh join
		epoch         string
		history       int
		age           time.Duration // clock advance before the join
		wantRecovered bool
		wantSeqs      []uint64
	}{
		{"10 published, resume from 8", 10, ptr[uint64](8), epoch, 0, 0, true, []uint64{9, 10}},
		{"20 published, resume from 5", 20, ptr[uint64](5), epoch, 3, 0, false, []uint64{18, 19, 20}},
		{"20 published, resume from 10 (oldest kept is 11)", 20, ptr[uint64](10), epoch, 0, 0, true, seqs(11, 20)},
		{"20 published, resume from 9", 20, ptr[uint64](9), epoch, 0, 0, false, nil},
		{"since 30, head 10", 10, ptr[uint64](30), epoch, 2, 0, false, []uint64{9, 10}},
		{"since == head", 10, ptr[uint64](10), epoch, 5, 0, true, nil},
		{"since == head == 0", 0, ptr[uint64](0), epoch, 5, 0, true, nil},
		{"wrong epoch", 10, ptr[uint64](8), "e0", 1, 0, false, []uint64{10}},
		{"empty epoch", 10, ptr[uint64](8), "", 0, 0, false, nil},
		{"TTL expired", 10, ptr[uint64](8), epoch, 5, 2 * time.Minute, false, nil},
		{"TTL not yet expired", 10, ptr[uint64](8), epoch, 5, time.Minute, true, []uint64{9, 10}},
		{"fresh join", 10, nil, "", 4, 0, false, []uint64{7, 8, 9, 10}},
		{"fresh join, history over size", 20, nil, "", 50, 0, false, seqs(11, 20)},
		{"fresh join, no history asked", 10, nil, "", 0, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			s, b := replayServer(t, 10, time.Minute, clock)
			if err := b.Subscribe(context.Background(), "lobby"); err != nil { // as a member would
				t.Fatal(err)
			}
			publishN(t, b, "lobby", tt.published)
			clock.advance(tt.age)
			j := shared.Join{Room: "lobby", Since: tt.since, Epoch: tt.epoch, History: tt.history}
			if j.Epoch == epoch {
				j.Epoch = epochOf(t, b, "lobby")
			}
			recovered, h, err := s.replay(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, p := range h.Publications {
				got = append(got, p.Seq)
			}
			if recovered != tt.wantRecovered || !slices.Equal(got, tt.wantSeqs) {
				t.Errorf("replay = recovered %v seqs %v, want recovered %v seqs %v", recovered, got, tt.wantRecovered, tt.wantSeqs)
			}
		})
	}
}

// replayServer is a Server with just a memory broker keeping size messages
// for ttl on clock, enough for replay.
func replayServer(t *testing.T, size int, ttl time.Duration, clock *fakeClock) (*Server, *memory.Broker) {
	if size == 0 {
		size = -1 // none
	}
	if ttl == 0 {
		ttl = -1 // none
	}
	b := memory.New(memory.Config{HistorySize: size, HistoryTTL: ttl, Clock: clock.now})
	t.Cleanup(func() { _ = b.Close() })
	s := &Server{cfg: Config{MaxReplay: DefaultMaxReplay}, broker: b}
	b.Register(nodeHandler{s})
	return s, b
}

// publishN publishes n notifications to room.
func publishN(t *testing.T, b broker.Broker, room string, n int) {
	t.Helper()
	for range n {
		_, err := b.Publish(context.Background(), room, "notification", func(seq uint64) ([]byte, error) {
			return shared.EncodeEnvelope(shared.Envelope{Type: "notification", Room: room, Seq: seq, Data: []byte(`{"title":"x"}`)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// epochOf returns the epoch of room, opening it.
func epochOf(t *testing.T, b broker.Broker, room string) string {
	t.Helper()
	h, err := b.HistorySince(context.Background(), room, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h.Epoch
}

func TestNoHistoryStillResumesAtHead(t *testing.T) {
	s, b := replayServer(t, 0, 0, &fakeClock{t: time.Unix(0, 0)})
	publishN(t, b, "lobby", 3)
	// With no history a room is forgotten after each publish: keep it open
	// with a subscriber, as a member would.
	if err := b.Subscribe(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "lobby", 3)
	e := epochOf(t, b, "lobby")
	ctx := context.Background()
	if ok, h, _ := s.replay(ctx, shared.Join{Room: "lobby", Since: ptr[uint64](3), Epoch: e}); !ok || len(h.Publications) != 0 {
		t.Errorf("resume at head without history: recovered %v, %d messages; want true, 0", ok, len(h.Publications))
	}
	if ok, h, _ := s.replay(ctx, shared.Join{Room: "lobby", Since: ptr[uint64](2), Epoch: e, History: 5}); ok || len(h.Publications) != 0 {
		t.Errorf("resume behind head without history: recovered %v, %d messages; want false, 0", ok, len(h.Publications))
	}
}

func seqs(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
