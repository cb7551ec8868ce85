package memory

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// fakeClock is a manual clock for the history TTL and map keys' TTL: a
// broker's clock that moves when the test says. Safe for
// concurrent use: a map's expiry timer reads it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// nopHandler is a broker.Handler that ignores everything.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, broker.Publication) int { return 0 }
func (nopHandler) HandleEphemeral(string, []byte)                   {}
func (nopHandler) HandlePresence(string, broker.PresenceEvent)      {}
func (nopHandler) HandleControl(broker.Control) int                 { return 0 }
func (nopHandler) HandleQuery(string) ([]byte, error)               { return nil, nil }
func (nopHandler) HandleReset(string)                               {}

// newTestBroker is a memory broker on clock, closed when the test ends.
func newTestBroker(t *testing.T, cfg Config, clock *fakeClock) *Broker {
	t.Helper()
	if clock != nil {
		cfg.Clock = clock.now
	}
	b := New(cfg)
	t.Cleanup(func() { _ = b.Close() })
	b.Register(nopHandler{})
	return b
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

// TestExpiredRoomIsForgottenAndGetsANewEpoch: a room with no subscriber
// whose history expired is forgotten by the sweep; used again, it gets a
// new epoch and starts again at seq 1.
func TestExpiredRoomIsForgottenAndGetsANewEpoch(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newTestBroker(t, Config{HistoryTTL: time.Minute}, clock)
	epochOf := func() string {
		r := b.lockRoom("news", false)
		if r == nil {
			return ""
		}
		defer b.unlockRoom(r)
		return r.epoch
	}
	publishN(t, b, "news", 1)
	first := epochOf()
	clock.advance(30 * time.Second)
	b.sweep()
	if b.Stats().Rooms != 1 || epochOf() != first {
		t.Fatalf("room forgotten before its history expired")
	}
	clock.advance(31 * time.Second)
	b.sweep()
	if got := b.Stats().Rooms; got != 0 {
		t.Fatalf("Stats().Rooms = %d after the history expired, want 0", got)
	}
	res, err := b.Publish(context.Background(), "news", "notification", func(uint64) ([]byte, error) { return []byte(`{}`), nil })
	if err != nil || res.Seq != 1 {
		t.Errorf("first seq of the new room = %d (%v), want 1", res.Seq, err)
	}
	if second := epochOf(); second == first || second == "" {
		t.Errorf("epoch after re-creation = %q, want a new one (was %q)", second, first)
	}
}

// TestCloseStopsTheSweeper: Close returns once the sweeper has stopped, and
// a second Close does nothing.
func TestCloseStopsTheSweeper(t *testing.T) {
	b := New(Config{HistoryTTL: time.Minute})
	done := make(chan struct{})
	go func() {
		_ = b.Close()
		_ = b.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
}

func TestHistoryKeepsNewestWithinSize(t *testing.T) {
	h := newHistory(3, 0)
	for i := range uint64(5) {
		h.add(broker.Publication{Seq: i + 1})
	}
	if got := h.before(0, 10); len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Errorf("before(0, 10) = %v, want seqs 3..5", got)
	}
}
