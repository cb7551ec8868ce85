package server

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestHistoryPages pages a room's history forwards (HistorySince) and
// backwards (HistoryBefore) through the memory broker.
func TestHistoryPages(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newMemoryBroker(20, 0, clock.now)
	b.Register(nodeHandler{&Server{}})
	publishN(t, b, "lobby", 25) // keeps 6..25
	ctx := context.Background()
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
			var h History
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
