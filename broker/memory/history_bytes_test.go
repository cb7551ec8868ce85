package memory

import (
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
)

// TestHistoryByteBound: a room's history keeps the newest messages that fit
// its byte bound (payload plus pubOverhead each) as well as its size.
func TestHistoryByteBound(t *testing.T) {
	pub := func(seq uint64, n int) broker.Publication {
		return broker.Publication{Seq: seq, Payload: make([]byte, n), Time: time.Unix(0, 0)}
	}
	per := 100 + pubOverhead
	tests := []struct {
		name      string
		size      int
		maxBytes  int64
		payloads  []int
		wantFirst uint64 // 0: none kept
		wantLen   int
	}{
		{"bytes bind first", 1000, 10 * per, repeat(100, 20), 11, 10},
		{"size binds first", 5, 10 * per, repeat(100, 20), 16, 5},
		{"no byte bound", 1000, 0, repeat(100, 20), 1, 20},
		{"exactly full", 1000, 20 * per, repeat(100, 20), 1, 20},
		{"one big message pushes out many", 1000, 10 * per, append(repeat(100, 10), 500), 5, 7},
		{"a message over the bound is not kept", 1000, 10 * per, append(repeat(100, 3), 2000), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(tt.size, 0)
			h.maxBytes = tt.maxBytes
			var payload int64
			for i, n := range tt.payloads {
				h.add(pub(uint64(i+1), n))
			}
			for _, e := range h.entries {
				payload += int64(len(e.Payload))
			}
			if h.len() != tt.wantLen || (tt.wantLen > 0 && h.entries[0].Seq != tt.wantFirst) {
				t.Fatalf("kept %d, want %d from %d", h.len(), tt.wantLen, tt.wantFirst)
			}
			if h.payload != payload || (tt.maxBytes > 0 && payload+int64(h.len())*pubOverhead > tt.maxBytes) {
				t.Errorf("payload count %d (real %d) for a bound of %d", h.payload, payload, tt.maxBytes)
			}
			if h.bytes() < payload+int64(h.len())*pubOverhead {
				t.Errorf("bytes() = %d, less than what is kept", h.bytes())
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}
