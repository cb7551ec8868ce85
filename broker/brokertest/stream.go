package brokertest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/tetherkit/tether/broker"
)

// historyPaging: HistorySince and HistoryBefore page a room's kept history
// forwards and backwards, on every node, each page a run of consecutive
// seqs with the room's head and epoch, the oldest beyond HistorySize gone.
func (s Suite) historyPaging(t *testing.T) {
	nodes, _ := s.start(t, 2, 20)
	ctx := waitCtx(t)
	mustPublish(t, ctx, nodes[len(nodes)-1], "lobby", 25) // keeps 6..25
	tests := []struct {
		name          string
		since, before uint64
		backwards     bool
		limit         int
		want          []uint64
	}{
		{"newest 5", 0, 0, true, 5, Seqs(21, 25)},
		{"5 before 21", 0, 21, true, 5, Seqs(16, 20)},
		{"10 before 9: only 6..8 kept", 0, 9, true, 10, Seqs(6, 8)},
		{"before the oldest kept", 0, 6, true, 10, nil},
		{"before beyond the head", 0, 100, true, 3, Seqs(23, 25)},
		{"no limit", 0, 0, true, 0, nil},
		{"3 since 10", 10, 0, false, 3, Seqs(11, 13)},
		{"since 2: from the oldest kept", 2, 0, false, 3, Seqs(6, 8)},
		{"since the head", 25, 0, false, 3, nil},
		{"since 20, limit over the rest", 20, 0, false, 50, Seqs(21, 25)},
	}
	for i, b := range nodes {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("node%d/%s", i, tt.name), func(t *testing.T) {
				var h broker.History
				var err error
				if tt.backwards {
					h, err = b.HistoryBefore(ctx, "lobby", tt.before, tt.limit)
				} else {
					h, err = b.HistorySince(ctx, "lobby", tt.since, tt.limit)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := seqsOf(h.Publications); !slices.Equal(got, tt.want) || h.Seq != 25 || h.Epoch == "" {
					t.Errorf("got seqs %v at head %d epoch %q, want %v at head 25", got, h.Seq, h.Epoch, tt.want)
				}
				for _, p := range h.Publications {
					if p.Epoch != h.Epoch || !bytes.Equal(p.Payload, Payload(p.Seq, "p"+fmt.Sprint(p.Seq-1))) {
						t.Errorf("publication %d: epoch %q payload %s; want the room's epoch %q and the payload encoded for its seq", p.Seq, p.Epoch, p.Payload, h.Epoch)
					}
				}
			})
		}
	}
}

// consecutiveSeqs: publishers on several nodes at once get the seqs 1..n of
// one epoch, each once; every subscribed node gets every publication once,
// in seq order, one at a time, with the payload encoded for its seq; and
// the history holds them all, consecutive. Two rooms at once, so that each
// room's order is its own.
func (s Suite) consecutiveSeqs(t *testing.T) {
	const publishers, each = 4, 15 // per node and room
	nodes, recs := s.start(t, 3, 1000)
	ctx := waitCtx(t)
	rooms := []string{"seq-a", "seq-b"}
	for _, b := range nodes {
		for _, room := range rooms {
			if err := b.Subscribe(ctx, room); err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
		}
	}
	total := uint64(len(nodes) * publishers * each) // per room
	type result struct {
		room string
		res  broker.PublishResult
		err  error
	}
	results := make(chan result, int(total)*len(rooms))
	var wg sync.WaitGroup
	for n, b := range nodes {
		for _, room := range rooms {
			for g := range publishers {
				wg.Go(func() {
					for i := range each {
						res, err := publish(ctx, b, room, fmt.Sprintf("n%d-g%d-i%d", n, g, i))
						results <- result{room, res, err}
					}
				})
			}
		}
	}
	wg.Wait()
	close(results)
	seqs := map[string][]uint64{}
	epochs := map[string]map[string]bool{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("Publish to %q: %v", r.room, r.err)
		}
		seqs[r.room] = append(seqs[r.room], r.res.Seq)
		if epochs[r.room] == nil {
			epochs[r.room] = map[string]bool{}
		}
		epochs[r.room][r.res.Epoch] = true
	}
	for _, room := range rooms {
		got := slices.Sorted(slices.Values(seqs[room]))
		if !slices.Equal(got, Seqs(1, total)) {
			t.Fatalf("room %q: %d concurrent publishes got seqs %v, want each of 1..%d once", room, total, got, total)
		}
		if len(epochs[room]) != 1 {
			t.Fatalf("room %q: publishes got epochs %v, want one", room, epochs[room])
		}
	}
	for i, rec := range recs {
		for _, room := range rooms {
			rec.WaitFor(t, fmt.Sprintf("node%d gets the %d publications of %q", i, total, room), func() bool {
				return len(rec.Publications(room)) >= int(total)
			})
			pubs := rec.Publications(room)
			if got := seqsOf(pubs); !slices.Equal(got, Seqs(1, total)) {
				t.Errorf("node%d delivered %q as seqs %v, want 1..%d in order, each once", i, room, got, total)
			}
			for _, p := range pubs {
				if !bytes.HasPrefix(p.Payload, fmt.Appendf(nil, `{"seq":%d,`, p.Seq)) || p.Type != "test" || !epochs[room][p.Epoch] {
					t.Errorf("node%d: publication %d of %q has type %q, epoch %q, payload %s: want what encode made for its seq", i, p.Seq, room, p.Type, p.Epoch, p.Payload)
					break
				}
			}
		}
		if n := rec.Overlaps(); n != 0 {
			t.Errorf("node%d: HandlePublication ran %d times while another call of the same room was running, want one at a time", i, n)
		}
	}
	for i, b := range nodes {
		for _, room := range rooms {
			h, err := b.HistorySince(ctx, room, 0, int(total)+10)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqsOf(h.Publications); !slices.Equal(got, Seqs(1, total)) || h.Seq != total || !epochs[room][h.Epoch] {
				t.Errorf("node%d: history of %q is seqs %v at head %d epoch %q, want 1..%d in the publishes' epoch", i, room, got, h.Seq, h.Epoch, total)
			}
			want := recs[0].Publications(room)
			for j, p := range h.Publications {
				if j < len(want) && !bytes.Equal(p.Payload, want[j].Payload) {
					t.Errorf("node%d: history of %q has payload %s at seq %d, node0 was delivered %s", i, room, p.Payload, p.Seq, want[j].Payload)
					break
				}
			}
		}
	}
}

// epoch: a room's epoch is the same on every node and stays while the room
// has history (a new room's read answers an epoch at head 0); a room that lost its history never gives a seq of the old
// epoch twice: it gets a new epoch and starts again at 1 (or, keeping its
// epoch, goes on after its head).
func (s Suite) epoch(t *testing.T) {
	nodes, _ := s.start(t, 2, 100)
	ctx := waitCtx(t)
	h, err := nodes[0].HistorySince(ctx, "epoch", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if h.Epoch == "" || h.Seq != 0 || len(h.Publications) != 0 {
		t.Fatalf("a new room: epoch %q head %d, %d publications; want an epoch, head 0 and none", h.Epoch, h.Seq, len(h.Publications))
	}
	// A room with no message, no subscriber and no presence may be
	// forgotten at once: its epoch is the one of its first publish.
	res := mustPublish(t, ctx, nodes[len(nodes)-1], "epoch", 3)
	first := res.Epoch
	if first == "" || res.Seq != 3 {
		t.Fatalf("three publishes to a new room: epoch %q, last seq %d; want an epoch and 3", first, res.Seq)
	}
	for i, b := range nodes {
		h, err := b.HistoryBefore(ctx, "epoch", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if h.Epoch != first || h.Seq != 3 {
			t.Errorf("node%d sees the room at epoch %q head %d, want %q and 3", i, h.Epoch, h.Seq, first)
		}
	}
	if s.LoseHistory == nil {
		t.Log("Suite.LoseHistory is nil: the epoch after a loss of history is not checked")
		return
	}
	s.LoseHistory(t, nodes, "epoch")
	res, err = publish(ctx, nodes[0], "epoch", "after")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case res.Epoch != first && res.Seq == 1:
	case res.Epoch == first && res.Seq == 4:
	default:
		t.Fatalf("after the history was lost the next publish got epoch %q seq %d (was %q at 3): want a new epoch at seq 1, or seq 4 of the same one, never a seq given twice", res.Epoch, res.Seq, first)
	}
	for i, b := range nodes {
		h, err := b.HistorySince(ctx, "epoch", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if h.Epoch != res.Epoch || h.Seq != res.Seq {
			t.Errorf("node%d sees the room at epoch %q head %d after the loss, want %q and %d", i, h.Epoch, h.Seq, res.Epoch, res.Seq)
		}
	}
}

// ephemeral: an ephemeral message reaches the nodes subscribed to its room,
// once each, never one that is not, and takes no seq.
func (s Suite) ephemeral(t *testing.T) {
	nodes, recs := s.start(t, 2, 100)
	ctx := waitCtx(t)
	sub, pub := 0, len(nodes)-1
	if err := nodes[sub].Subscribe(ctx, "typing"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[pub].PublishEphemeral(ctx, "typing", []byte("one")); err != nil {
		t.Fatalf("PublishEphemeral: %v", err)
	}
	recs[sub].WaitFor(t, "the subscribed node gets the ephemeral message", func() bool { return len(recs[sub].Ephemeral("typing")) >= 1 })
	if pub != sub {
		// The publishing node subscribes now: it gets the next message and
		// must not have got the first.
		if err := nodes[pub].Subscribe(ctx, "typing"); err != nil {
			t.Fatal(err)
		}
		if err := nodes[pub].PublishEphemeral(ctx, "typing", []byte("two")); err != nil {
			t.Fatal(err)
		}
		recs[pub].WaitFor(t, "a node that subscribed gets the next ephemeral message", func() bool { return len(recs[pub].Ephemeral("typing")) >= 1 })
		recs[sub].WaitFor(t, "the subscribed node gets the second one", func() bool { return len(recs[sub].Ephemeral("typing")) >= 2 })
		if got := recs[pub].Ephemeral("typing"); !slices.Equal(got, []string{"two"}) {
			t.Errorf("the node that was not subscribed got %q, want only what came after it subscribed", got)
		}
	}
	want := []string{"one"}
	if pub != sub {
		want = append(want, "two")
	}
	if got := recs[sub].Ephemeral("typing"); !slices.Equal(got, want) {
		t.Errorf("the subscribed node got %q, want %q, each once", got, want)
	}
	h, err := nodes[sub].HistorySince(ctx, "typing", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 0 || len(h.Publications) != 0 || len(recs[sub].Publications("typing")) != 0 {
		t.Errorf("ephemeral messages took seqs: head %d, %d in history", h.Seq, len(h.Publications))
	}
}

// subscriptions: Subscribe is counted: after two Subscribes and one
// Unsubscribe the feed goes on.
func (s Suite) subscriptions(t *testing.T) {
	nodes, recs := s.start(t, 1, 100)
	ctx := waitCtx(t)
	b, rec := nodes[0], recs[0]
	for range 2 {
		if err := b.Subscribe(ctx, "counted"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unsubscribe(ctx, "counted"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, ctx, b, "counted", 2)
	rec.WaitFor(t, "a room subscribed twice and unsubscribed once still gets its feed", func() bool {
		return len(rec.Publications("counted")) >= 2
	})
	if err := b.Unsubscribe(ctx, "counted"); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(rec.Publications("counted")); !slices.Equal(got, Seqs(1, 2)) {
		t.Errorf("delivered seqs %v, want 1 and 2", got)
	}
}
