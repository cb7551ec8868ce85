package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestRoomCapPerConnection is the attack of issue 8: one connection tries
// to create 10,000 rooms. Past the cap (default 100) every join is refused
// with too_many_rooms, the server holds no more rooms than the cap, the
// connection stays usable, and leaving a room makes room for another.
func TestRoomCapPerConnection(t *testing.T) {
	e := startServer(t, server.Config{MessageRate: -1})
	mallory := e.dial("mallory")
	joined, refused := 0, 0
	for i := range 10_000 {
		id := mallory.request(shared.Join{Room: fmt.Sprint("r", i)})
		r := waitFor[shared.Message](mallory, func(_ shared.Message, env shared.Envelope) bool { return env.ID == id })
		switch m := r.msg.(type) {
		case shared.Joined:
			joined++
		case shared.Error:
			if m.Code != shared.CodeTooManyRooms || m.Field != "data.room" || !strings.Contains(m.Message, "100 rooms") {
				t.Fatalf("join %d refused with %+v, want too_many_rooms naming the limit", i, m)
			}
			refused++
		default:
			t.Fatalf("join %d answered %s", i, r.env.Type)
		}
	}
	if joined != server.DefaultMaxRoomsPerConn || refused != 10_000-server.DefaultMaxRoomsPerConn {
		t.Fatalf("%d joined, %d refused; want %d joined, the rest refused", joined, refused, server.DefaultMaxRoomsPerConn)
	}
	if rooms := tethertest.Stats(t, e.srv).Rooms; rooms > server.DefaultMaxRoomsPerConn {
		t.Fatalf("the server holds %d rooms after the attack, want at most %d", rooms, server.DefaultMaxRoomsPerConn)
	}
	mallory.ping()
	// Joining a room already joined is not a new room.
	if j := mallory.join("r5", 0); j.Room != "r5" {
		t.Fatalf("rejoin of r5: %+v", j)
	}
	id := mallory.request(shared.Leave{Room: "r0"})
	expectReply[shared.Left](mallory, id)
	if j := mallory.join("another", 0); j.Room != "another" {
		t.Fatalf("join after a leave: %+v", j)
	}
	t.Logf("10,000 joins on one connection: %d joined, %d refused, %d rooms on the server", joined, refused, tethertest.Stats(t, e.srv).Rooms)
}

// TestHistoryMemoryBudget is the other attack of issue 8: 1,000 rooms
// filled with 1 KB messages. The history stays within the budget after
// every publication, by the broker's own count and by the heap, while every
// room is bounded by its own byte limit.
func TestHistoryMemoryBudget(t *testing.T) {
	const (
		rooms     = 1000
		roomBytes = 128 << 10 // a full room: about 110 messages of 1 KB
		budget    = 32 << 20  // a quarter of 1,000 full rooms
		perRoom   = 125
	)
	mb := tethertest.Memory(t, memory.Config{HistoryBytes: roomBytes, HistoryMemory: budget})
	srv := startServer(t, server.Config{Broker: mb}).srv
	body := strings.Repeat("x", 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	maxBytes := int64(0)
	for i := range perRoom {
		for r := range rooms {
			if _, _, err := srv.Publish(context.Background(), fmt.Sprint("room-", r), testmsg.Notification{Title: fmt.Sprint(i), Body: body}); err != nil {
				t.Fatal(err)
			}
			hm := mb.Stats()
			if hm.HistoryBytes > budget {
				t.Fatalf("after %d messages in %d rooms the history holds %d bytes, over the %d budget", i+1, rooms, hm.HistoryBytes, budget)
			}
			maxBytes = max(maxBytes, hm.HistoryBytes)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	hm := mb.Stats()
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d messages of 1 KB into %d rooms: history %d bytes (peak %d) of a %d budget, %d trimmed; heap grew %d bytes (%.2f × budget), %d rooms left",
		perRoom*rooms, rooms, hm.HistoryBytes, maxBytes, budget, hm.Trimmed, growth, float64(growth)/budget, hm.Rooms)
	if hm.Trimmed == 0 {
		t.Fatal("nothing was trimmed: the attack did not reach the budget")
	}
	// The count includes the payloads and the entries' arrays; the heap has
	// the allocator's rounding on top (payloads of 1.1 KB take 1,152-byte
	// slots) and a room's table entry.
	if limit := int64(budget) + budget/4; growth > limit {
		t.Fatalf("the heap grew by %d bytes, over the %d budget plus 25%%", growth, budget)
	}
}

// TestTrimmedRoomIsNotRecoverable: a room whose history the budget dropped
// reports it: a resume gets recovered false (the table of docs/protocol.md
// §7 holds), history says dropped; the room just published to resumes.
func TestTrimmedRoomIsNotRecoverable(t *testing.T) {
	const budget = 1 << 20
	mb := tethertest.Memory(t, memory.Config{HistoryBytes: 64 << 10, HistoryMemory: budget})
	e := startServer(t, server.Config{Broker: mb})
	alice := e.dial("alice")
	quiet := alice.join("quiet", 0)
	publish := func(room string, n int) {
		for range n {
			if _, _, err := e.srv.Publish(context.Background(), room, testmsg.Notification{Title: "t", Body: strings.Repeat("y", 1000)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("quiet", 10)
	for range 10 {
		expect[testmsg.Notification](alice)
	}
	for i := range 40 { // 40 rooms × 60 KiB: more than twice the budget
		publish(fmt.Sprint("busy-", i), 60)
	}
	if hm := mb.Stats(); hm.HistoryBytes > budget || hm.Trimmed == 0 {
		t.Fatalf("history %+v, want within %d and some trimmed", hm, budget)
	}

	id := alice.request(shared.Join{Room: "quiet", Since: ptr[uint64](5), Epoch: quiet.Epoch, History: 10})
	j := expectReply[shared.Joined](alice, id)
	if j.Recovered || j.Epoch != quiet.Epoch || j.Seq != 10 || j.Replayed != 0 {
		t.Fatalf("resume of the trimmed room: %+v, want recovered false, same epoch, head 10, nothing replayed", j)
	}
	id = alice.request(shared.History{Room: "quiet"})
	if h := expectReply[shared.History](alice, id); !h.Dropped || len(h.Publications) != 0 || h.Seq != 10 {
		t.Fatalf("history of the trimmed room: %+v, want no publications, dropped", h)
	}

	// The last room published to kept its history: a resume recovers.
	bj := alice.join("busy-39", 0)
	id = alice.request(shared.Join{Room: "busy-39", Since: ptr(bj.Seq - 3), Epoch: bj.Epoch})
	if j := expectReply[shared.Joined](alice, id); !j.Recovered || j.Replayed != 3 {
		t.Fatalf("resume of the newest room: %+v, want recovered with 3 replayed", j)
	}
}
