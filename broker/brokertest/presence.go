package brokertest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tetherkit/tether/broker"
)

// presence: a user's first connection anywhere fires one join on every
// subscribed node, their further connections (on any node) none, the
// removal of all but the last none, and of the last one leave; the event
// names the connection; Presence lists the members, sorted, on every node.
func (s Suite) presence(t *testing.T) {
	nodes, recs := s.start(t, 3, 100)
	ctx := waitCtx(t)
	const room = "presence"
	for _, b := range nodes {
		if err := b.Subscribe(ctx, room); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) broker.Broker { return nodes[i%len(nodes)] }
	alice := broker.Member{User: "alice", Name: "Alice"}
	bob := broker.Member{User: "bob", Name: "Bob"}
	// seen waits until every node got the events so far (want) and checks
	// they are exactly those, in order: the last one of want is the barrier
	// behind which no duplicate may hide.
	var want []broker.PresenceEvent
	seen := func(step string) {
		t.Helper()
		for i, rec := range recs {
			rec.WaitFor(t, fmt.Sprintf("%s: node%d gets %d presence events", step, i, len(want)), func() bool {
				return len(rec.Presence(room)) >= len(want)
			})
			if got := rec.Presence(room); !slices.Equal(got, want) {
				t.Fatalf("%s: node%d got presence events %+v, want %+v (each once)", step, i, got, want)
			}
		}
	}
	members := func(step string, list ...broker.Member) {
		t.Helper()
		for i, b := range nodes {
			recs[i].Poll(t, fmt.Sprintf("%s: node%d lists %v", step, i, list), func() error {
				got, err := b.Presence(ctx, room)
				if err != nil {
					return err
				}
				if !slices.Equal(got, list) {
					return fmt.Errorf("Presence = %+v", got)
				}
				return nil
			})
		}
	}

	if err := at(0).AddPresence(ctx, room, "c1", alice); err != nil {
		t.Fatal(err)
	}
	want = append(want, broker.PresenceEvent{Join: true, Member: alice, Conn: "c1"})
	seen("alice's first connection")
	members("alice joined", alice)

	if err := at(1).AddPresence(ctx, room, "c2", alice); err != nil {
		t.Fatal(err)
	}
	if err := at(2).AddPresence(ctx, room, "c3", bob); err != nil {
		t.Fatal(err)
	}
	want = append(want, broker.PresenceEvent{Join: true, Member: bob, Conn: "c3"})
	seen("alice's second connection (no event), then bob's first")
	members("alice twice, bob", alice, bob)

	if err := at(0).RemovePresence(ctx, room, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := at(2).RemovePresence(ctx, room, "c3"); err != nil {
		t.Fatal(err)
	}
	want = append(want, broker.PresenceEvent{Join: false, Member: bob, Conn: "c3"})
	seen("alice's first connection leaves (no event), then bob's only one")
	members("alice left once, bob left", alice)

	if err := at(1).RemovePresence(ctx, room, "c2"); err != nil {
		t.Fatal(err)
	}
	want = append(want, broker.PresenceEvent{Join: false, Member: alice, Conn: "c2"})
	seen("alice's last connection leaves")
	members("everyone left")
	if err := at(1).RemovePresence(ctx, room, "c2"); err != nil {
		t.Errorf("removing a connection twice: %v, want no error", err)
	}
}
