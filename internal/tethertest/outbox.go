package tethertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// OutboxScenario is issue 8's upstream test, written once for every
// package that runs it (one server, a cluster): Total chat sends from a
// sender whose connection is cut at Cuts random points (sends made while it
// is down wait in the outbox; the one in flight at a cut is sent again with
// its key), which a watcher must see exactly once each, in order.
type OutboxScenario struct {
	// Watcher and Sender are clients not yet running: Watcher connects
	// to the server directly, Sender through whatever Cut cuts. A test
	// may register its own handlers on them first.
	Watcher, Sender *client.Client
	// Cut drops the sender's connection (a CutProxy's Cut).
	Cut func()
	// Room is the room both join.
	Room string
	// Total is how many sends are made (besides the end marker);
	// Cuts how many of them are preceded by a cut (Cuts < Total).
	Total, Cuts int
	// Stream is the PCG stream the cut points are drawn with.
	Stream uint64
	// Within bounds each join and each wait for the sender to rejoin
	// before a cut; EndWithin the wait for the room to get every message.
	Within, EndWithin time.Duration
}

// OutboxResult is what a test logs after an OutboxScenario passed.
type OutboxResult struct {
	// Seed drew the cut points.
	Seed uint64
	// MaxQueued is the most sends that waited in the outbox at once.
	MaxQueued int
}

// Run runs both clients, makes the sends with the cuts, one every 5ms,
// and fails the test unless the watcher got exactly "s001".. in order and
// the end marker, within the bounds, with no send refused by the server.
func (o OutboxScenario) Run(t testing.TB) OutboxResult {
	t.Helper()
	var mu sync.Mutex
	var got []string
	end := make(chan struct{})
	client.On(o.Watcher, func(m testmsg.ChatMessage) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.Text)
		if m.Text == "end" {
			close(end)
		}
	})
	refused := make(chan shared.Error, o.Total)
	client.On(o.Sender, func(e shared.Error) { refused <- e })
	rejoined := make(chan struct{}, 1)
	o.Sender.OnJoined(func(shared.Joined) {
		select {
		case rejoined <- struct{}{}:
		default:
		}
	})
	for _, c := range []*client.Client{o.Watcher, o.Sender} {
		Run(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), o.Within)
		_, err := c.Join(ctx, o.Room, 0)
		cancel()
		if err != nil {
			t.Fatalf("join %q: %v", o.Room, err)
		}
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, o.Stream))
	cutAt := map[int]bool{}
	for len(cutAt) < o.Cuts {
		cutAt[1+rng.IntN(o.Total-1)] = true
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	maxQueued := 0
	for i := 1; i <= o.Total; i++ {
		<-tick.C
		if cutAt[i] {
			// A cut while the sender is offline would cut nothing: wait
			// until it is back in the room since the last cut, then cut.
			select {
			case <-rejoined:
			case <-time.After(o.Within):
				t.Fatalf("seed %d: the sender did not rejoin within %v", seed, o.Within)
			}
			o.Cut()
		}
		if err := o.Sender.Send(context.Background(), testmsg.ChatSend{Room: o.Room, Text: fmt.Sprintf("s%03d", i)}); err != nil {
			t.Fatalf("seed %d: send %d: %v", seed, i, err)
		}
		maxQueued = max(maxQueued, o.Sender.Outbox())
	}
	if err := o.Sender.Send(context.Background(), testmsg.ChatSend{Room: o.Room, Text: "end"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-end:
	case e := <-refused:
		t.Fatalf("seed %d: the server refused a send: %+v", seed, e)
	case <-time.After(o.EndWithin):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("seed %d: the room has %d of %d messages after %v; outbox %d", seed, len(got), o.Total+1, o.EndWithin, o.Sender.Outbox())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != o.Total+1 {
		t.Fatalf("seed %d: the room got %d messages, want %d (the %d and the end marker) once each", seed, len(got), o.Total+1, o.Total)
	}
	for i, text := range got[:o.Total] {
		if want := fmt.Sprintf("s%03d", i+1); text != want {
			t.Fatalf("seed %d: room message %d is %q, want %q (lost, doubled or out of order)", seed, i+1, text, want)
		}
	}
	return OutboxResult{Seed: seed, MaxQueued: maxQueued}
}
