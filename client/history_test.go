package client

import (
	"testing"

	"github.com/tetherkit/tether/shared"
)

// TestGap: which seqs a rejoin that did not recover leaves out.
func TestGap(t *testing.T) {
	tests := []struct {
		name   string
		epoch  string // the client's before the rejoin; "" → fresh join
		last   uint64
		joined shared.Joined
		want   Gap
		ok     bool
	}{
		{"recovered", "e1", 5, shared.Joined{Room: "r", Epoch: "e1", Seq: 9, Recovered: true, Replayed: 4}, Gap{}, false},
		{"fresh join", "", 0, shared.Joined{Room: "r", Epoch: "e1", Seq: 9, Replayed: 3}, Gap{}, false},
		{"history lost, 3 replayed", "e1", 5, shared.Joined{Room: "r", Epoch: "e1", Seq: 25, Replayed: 3}, Gap{Room: "r", Epoch: "e1", From: 6, To: 22}, true},
		{"history lost, nothing replayed", "e1", 5, shared.Joined{Room: "r", Epoch: "e1", Seq: 25}, Gap{Room: "r", Epoch: "e1", From: 6, To: 25}, true},
		{"replay covers the rest", "e1", 5, shared.Joined{Room: "r", Epoch: "e1", Seq: 8, Replayed: 3}, Gap{}, false},
		{"new epoch", "e1", 5, shared.Joined{Room: "r", Epoch: "e2", Seq: 4, Replayed: 2}, Gap{Room: "r", Epoch: "e2", From: 1, To: 2, EpochChanged: true}, true},
		{"new epoch, all replayed", "e1", 5, shared.Joined{Room: "r", Epoch: "e2", Seq: 2, Replayed: 2}, Gap{Room: "r", Epoch: "e2", From: 1, To: 0, EpochChanged: true}, true},
		{"server lost the room, same epoch name", "e1", 30, shared.Joined{Room: "r", Epoch: "e1", Seq: 3}, Gap{Room: "r", Epoch: "e1", From: 1, To: 3, EpochChanged: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ok := gap(tt.epoch, tt.last, tt.joined)
			if ok != tt.ok || (ok && g != tt.want) {
				t.Errorf("gap = %+v, %v; want %+v, %v", g, ok, tt.want, tt.ok)
			}
		})
	}
}
