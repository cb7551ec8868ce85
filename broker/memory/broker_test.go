package memory

import (
	"context"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/brokertest"
)

// TestHistoryPages pages a room's history forwards (HistorySince) and
// backwards (HistoryBefore) through the memory broker.
func TestHistoryPages(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newMemoryBroker(20, 0, clock.now)
	b.Register(nodeHandler{&Server{}})
	publishN(t, b, "lobby", 25) // keeps 6..25
	brokertest.HistoryPages(t, context.Background(), brokertest.Pages[History]{
		Since: b.HistorySince, Before: b.HistoryBefore,
		Read: func(h History) (s []uint64, head uint64, epoch string) {
			for _, p := range h.Publications {
				s = append(s, p.Seq)
			}
			return s, h.Seq, h.Epoch
		},
	})
}
