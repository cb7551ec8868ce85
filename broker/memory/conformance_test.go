package memory

import (
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/brokertest"
)

// TestConformance runs the broker conformance suite on the memory broker:
// one node, history lost by its TTL.
func TestConformance(t *testing.T) {
	clocks := map[broker.Broker]*fakeClock{} // the suite's tests run one at a time
	brokertest.Run(t, brokertest.Suite{
		MaxNodes: 1,
		New: func(t *testing.T, s brokertest.Setup) []broker.Broker {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			b := New(Config{HistorySize: s.HistorySize, HistoryTTL: time.Minute, Clock: clock.now})
			t.Cleanup(func() { _ = b.Close() })
			clocks[b] = clock
			return []broker.Broker{b}
		},
		// The room's history expires and the sweep forgets the room.
		LoseHistory: func(t *testing.T, nodes []broker.Broker, room string) {
			clocks[nodes[0]].advance(2 * time.Minute)
			nodes[0].(*Broker).sweep()
		},
		// A map key's TTL is due by the fake clock; its timer (real time)
		// then finds it due.
		Elapse: func(t *testing.T, nodes []broker.Broker, d time.Duration) {
			clocks[nodes[0]].advance(d)
		},
	})
}

// TestConformanceKeysOff runs the idempotency test of the suite on a memory
// broker that remembers no key.
func TestConformanceKeysOff(t *testing.T) {
	brokertest.Run(t, brokertest.Suite{
		KeysOff: true,
		New: func(t *testing.T, s brokertest.Setup) []broker.Broker {
			b := New(Config{HistorySize: s.HistorySize, IdempotencyKeys: -1})
			t.Cleanup(func() { _ = b.Close() })
			return []broker.Broker{b}
		},
	})
}
