package server

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tetherkit/tether/shared"
)

// TestHistoryPage is the paging table of docs/protocol.md §4 "history":
// which seqs a page holds, and what more and dropped say about the rest.
func TestHistoryPage(t *testing.T) {
	_, b := replayServer(t, 10, 0, &fakeClock{t: time.Unix(0, 0)})
	publishN(t, b, "full", 25) // keeps 16..25
	publishN(t, b, "small", 3) // keeps 1..3
	epoch := epochOf(t, b, "full")
	tests := []struct {
		name        string
		req         shared.History
		wantSeqs    []uint64
		wantMore    bool
		wantDropped bool
	}{
		{"newest page", shared.History{Room: "full", Limit: 5}, seqs(21, 25), true, false},
		{"next page reaches the dropped part", shared.History{Room: "full", Before: 21, Limit: 5}, seqs(16, 20), false, true},
		{"page shorter than limit", shared.History{Room: "full", Before: 18, Limit: 50}, seqs(16, 17), false, true},
		{"below the oldest kept", shared.History{Room: "full", Before: 16, Limit: 5}, nil, false, true},
		{"default limit", shared.History{Room: "full"}, seqs(16, 25), false, true},
		{"exactly the kept ones", shared.History{Room: "full", Before: 26, Limit: 10}, seqs(16, 25), false, true},
		{"before beyond head", shared.History{Room: "full", Before: 1000, Limit: 2}, seqs(24, 25), true, false},
		{"right epoch", shared.History{Room: "full", Before: 23, Limit: 2, Epoch: epoch}, seqs(21, 22), true, false},
		{"gone epoch", shared.History{Room: "full", Before: 23, Limit: 2, Epoch: "old"}, nil, false, true},
		{"whole history kept", shared.History{Room: "small"}, seqs(1, 3), false, false},
		{"page down to seq 1", shared.History{Room: "small", Before: 3, Limit: 2}, seqs(1, 2), false, false},
		{"before 1", shared.History{Room: "small", Before: 1}, nil, false, false},
		{"empty room", shared.History{Room: "empty"}, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := historyPage(context.Background(), b, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, raw := range page.Publications {
				env, err := shared.DecodeEnvelope(raw)
				if err != nil || env.Room != tt.req.Room || env.Type != "notification" {
					t.Fatalf("publication %s: envelope %+v, %v", raw, env, err)
				}
				got = append(got, env.Seq)
			}
			if !slices.Equal(got, tt.wantSeqs) || page.More != tt.wantMore || page.Dropped != tt.wantDropped {
				t.Errorf("seqs %v more %v dropped %v, want %v more %v dropped %v", got, page.More, page.Dropped, tt.wantSeqs, tt.wantMore, tt.wantDropped)
			}
			if page.Room != tt.req.Room || page.Epoch == "" {
				t.Errorf("page of room %q epoch %q", page.Room, page.Epoch)
			}
			if tt.req.Room == "full" && (page.Epoch != epoch || page.Seq != 25) {
				t.Errorf("position %s/%d, want %s/25", page.Epoch, page.Seq, epoch)
			}
		})
	}
}

// TestHistoryValidate: limit bounds and room name are checked on decode.
func TestHistoryValidate(t *testing.T) {
	reg := shared.NewRegistry()
	tests := []struct {
		data      string
		wantField string // "" → valid
	}{
		{`{"room":"lobby"}`, ""},
		{`{"room":"lobby","before":3,"limit":100,"epoch":"e"}`, ""},
		{`{"room":"lobby","limit":101}`, "data.limit"},
		{`{"room":"lobby","limit":-1}`, "data.limit"},
		{`{"room":""}`, "data.room"},
		{`{"room":"lobby","before":-1}`, "data.before"},
	}
	for _, tt := range tests {
		_, err := reg.Decode(shared.Envelope{Type: "history", Data: json.RawMessage(tt.data)})
		var de *shared.DecodeError
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%s: %v, want valid", tt.data, err)
		case tt.wantField != "" && (!errors.As(err, &de) || de.Field != tt.wantField):
			t.Errorf("%s: %v, want bad_data on %s", tt.data, err, tt.wantField)
		}
	}
}
