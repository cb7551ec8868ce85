package natsbroker_test

import (
	"context"
	"fmt"
	"testing"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// TestHistoryRequestAcrossNodes: the history request pages a room kept in
// JetStream as it does in memory: messages published on node b, paged from
// node a, with more and dropped as docs/protocol.md §4 says, and a gap
// filled with the messages still kept.
func TestHistoryRequestAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2, natsbroker.Config{HistorySize: 10}, server.Config{MaxReplay: 10})
	sub := newClient(t, nodes[0], "sub")
	tethertest.Run(t, sub)
	j := join(t, sub, "paged", 0)
	for i := 1; i <= 25; i++ {
		if _, _, err := nodes[1].srv.Publish(context.Background(), "paged", testmsg.Notification{Title: fmt.Sprint("n", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()

	tests := []struct {
		before, limit int
		first, last   uint64 // 0, 0: none
		more, dropped bool
	}{
		{0, 4, 22, 25, true, false},
		{22, 0, 16, 21, false, true},
		{16, 5, 0, 0, false, true},
		{1000, 2, 24, 25, true, false},
	}
	for _, tt := range tests {
		page, err := client.History(ctx, sub, "paged", uint64(tt.before), tt.limit)
		if err != nil {
			t.Fatalf("before %d limit %d: %v", tt.before, tt.limit, err)
		}
		var first, last uint64
		if n := len(page.Publications); n > 0 {
			first, last = page.Publications[0].Seq, page.Publications[n-1].Seq
		}
		if page.Epoch != j.Epoch || page.Head != 25 || first != tt.first || last != tt.last || page.More != tt.more || page.Dropped != tt.dropped {
			t.Errorf("before %d limit %d: %s/%d seqs %d..%d more %v dropped %v; want %s/25 %d..%d more %v dropped %v",
				tt.before, tt.limit, page.Epoch, page.Head, first, last, page.More, page.Dropped, j.Epoch, tt.first, tt.last, tt.more, tt.dropped)
		}
		for i, p := range page.Publications {
			if n, ok := p.Message.(testmsg.Notification); !ok || n.Title != fmt.Sprint("n", first+uint64(i)) {
				t.Errorf("before %d: publication %d is %+v", tt.before, i, p)
			}
		}
	}

	pubs, dropped, err := client.FillGap(ctx, sub, client.Gap{Room: "paged", Epoch: j.Epoch, From: 6, To: 22}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !dropped || len(pubs) != 7 || pubs[0].Seq != 16 || pubs[6].Seq != 22 {
		t.Fatalf("FillGap 6..22: %d publications, dropped %v; want 16..22, dropped", len(pubs), dropped)
	}
}
