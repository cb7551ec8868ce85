package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

func ptr[T any](v T) *T { return &v }

// TestJoinReplaysThenLive checks over a real connection what a join gets
// after joined: the replay of docs/protocol.md §7, then live messages with
// nothing skipped or repeated. The full recovery table is TestReplayRules.
func TestJoinReplaysThenLive(t *testing.T) {
	e := startServer(t, server.Config{Broker: tethertest.Memory(t, memory.Config{HistorySize: 10})})
	probe, bob := e.dial("alice"), e.dial("bob")
	const sameEpoch = "<the room's epoch>"
	tests := []struct {
		name          string
		join          shared.Join
		wantRecovered bool
		wantSeqs      []uint64
	}{
		{"fresh join, history 3", shared.Join{History: 3}, false, []uint64{3, 4, 5}},
		{"fresh join, more history than kept", shared.Join{History: 50}, false, []uint64{1, 2, 3, 4, 5}},
		{"fresh join, no history", shared.Join{}, false, nil},
		{"resume from 3", shared.Join{Since: ptr[uint64](3), Epoch: sameEpoch}, true, []uint64{4, 5}},
		{"resume from 0", shared.Join{Since: ptr[uint64](0), Epoch: sameEpoch}, true, []uint64{1, 2, 3, 4, 5}},
		{"resume from head", shared.Join{Since: ptr[uint64](5), Epoch: sameEpoch, History: 2}, true, nil},
		{"resume, other epoch", shared.Join{Since: ptr[uint64](3), Epoch: "old", History: 2}, false, []uint64{4, 5}},
		{"resume beyond head", shared.Join{Since: ptr[uint64](30), Epoch: sameEpoch, History: 1}, false, []uint64{5}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			room := fmt.Sprintf("room-%d", i)
			for range 5 {
				if _, _, err := e.srv.Publish(context.Background(), room, testmsg.Notification{Title: "old"}); err != nil {
					t.Fatal(err)
				}
			}
			epoch := probe.join(room, 0).Epoch
			j := tt.join
			j.Room = room
			if j.Epoch == sameEpoch {
				j.Epoch = epoch
			}
			id := bob.request(j)
			got := expect[shared.Joined](bob)
			if got.env.ID != id || got.msg.Epoch != epoch || got.msg.Seq != 5 || got.msg.Recovered != tt.wantRecovered || got.msg.Replayed != len(tt.wantSeqs) {
				t.Fatalf("joined %+v (id %d), want id %d epoch %s seq 5 recovered %v replayed %d",
					got.msg, got.env.ID, id, epoch, tt.wantRecovered, len(tt.wantSeqs))
			}
			for _, want := range tt.wantSeqs {
				if m := expect[testmsg.Notification](bob); m.env.Seq != want || m.env.Room != room {
					t.Errorf("replayed seq %d in %q, want %d in %s", m.env.Seq, m.env.Room, want, room)
				}
			}
			seq, _, _ := e.srv.Publish(context.Background(), room, testmsg.Notification{Title: "live"})
			if m := expect[testmsg.Notification](bob); m.env.Seq != seq || m.msg.Title != "live" {
				t.Errorf("after the replay got seq %d %q, want live seq %d", m.env.Seq, m.msg.Title, seq)
			}
		})
	}
}

func TestRejoinAndCanJoin(t *testing.T) {
	e := startServer(t, server.Config{CanJoin: func(_ context.Context, j server.JoinEvent) error {
		if j.Room == "vip" && j.Conn.User() != "alice" {
			return errNotVIP
		}
		return nil
	}})
	alice, bob := e.dial("alice"), e.dial("bob")
	id := bob.request(shared.Join{Room: "vip"})
	if got := expectReply[shared.Error](bob, id); got.Code != shared.CodeForbidden || got.Message != errNotVIP.Error() {
		t.Errorf("bob joining vip: %+v, want forbidden %q", got, errNotVIP.Error())
	}
	alice.join("vip", 0)
	if _, _, err := e.srv.Publish(context.Background(), "vip", testmsg.Notification{Title: "one"}); err != nil {
		t.Fatal(err)
	}
	expect[testmsg.Notification](alice)
	// Joining again is not an error and changes no presence.
	again := alice.join("vip", 5)
	if again.Replayed != 1 || members(again.Members) != "[alice/Alice]" {
		t.Errorf("second joined = %+v, want 1 replayed and alice once", again)
	}
	expect[testmsg.Notification](alice)
	alice.ping()
	if rooms := tethertest.Connections(t, e.srv)[0].Rooms; len(rooms) != 1 {
		t.Errorf("alice's rooms = %v, want [vip]", rooms)
	}
}

var errNotVIP = &vipErr{}

type vipErr struct{}

func (*vipErr) Error() string { return "members only" }

func TestRoomWithoutHistoryIsForgottenWhenEmpty(t *testing.T) {
	e := startServer(t, server.Config{Broker: tethertest.Memory(t, memory.Config{HistorySize: -1})})
	c := e.dial("alice")
	first := c.join("quiet", 10)
	if _, _, err := e.srv.Publish(context.Background(), "quiet", testmsg.Notification{Title: "x"}); err != nil {
		t.Fatal(err)
	}
	expect[testmsg.Notification](c)
	id := c.request(shared.Leave{Room: "quiet"})
	expectReply[shared.Left](c, id)
	if got := tethertest.Stats(t, e.srv).Rooms; got != 0 {
		t.Errorf("Stats().Rooms = %d after the last member left a room without history, want 0", got)
	}
	again := c.join("quiet", 10)
	if again.Epoch == first.Epoch || again.Seq != 0 || again.Replayed != 0 {
		t.Errorf("re-created room: %+v, want a new epoch, seq 0, nothing replayed (was %+v)", again, first)
	}
}
