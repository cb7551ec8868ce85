package natsbroker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestThreePublishersOneOrder: three publishers on three nodes write into one
// room at once; every subscriber on every node gets seqs exactly 1..N, and
// all in the same order.
func TestThreePublishersOneOrder(t *testing.T) {
	const perPublisher = 60
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	var recs []*recorder
	for i, n := range nodes {
		sub := newClient(t, n, fmt.Sprintf("sub%d", i))
		recs = append(recs, newRecorder(sub))
		tethertest.Run(t, sub)
		join(t, sub, "race", 0)
	}
	var pubs []*client.Client
	for i, n := range nodes {
		pub := newClient(t, n, fmt.Sprintf("pub%d", i))
		tethertest.Run(t, pub)
		join(t, pub, "race", 0)
		pubs = append(pubs, pub)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(pubs))
	for i, pub := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perPublisher {
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				_, err := client.Request[shared.Reply](ctx, pub, testmsg.ChatSend{Room: "race", Text: fmt.Sprintf("p%d-%03d", i, k)})
				cancel()
				if err != nil {
					errs <- fmt.Errorf("publisher %d message %d: %w", i, k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = 3 * perPublisher
	var first []string
	for i, r := range recs {
		r.wait(t, fmt.Sprintf("subscriber %d gets all", i), func(r *recorder) bool { return len(r.texts) >= total })
		texts, seqs, _ := r.snapshot()
		checkSeqs(t, fmt.Sprintf("subscriber on node %s", nodes[i].name), seqs, total)
		if first == nil {
			first = texts
			continue
		}
		if !slices.Equal(texts, first) {
			t.Fatalf("subscriber %d's order differs from subscriber 0's", i)
		}
	}
	// Each publisher's own lines are in the order it sent them.
	for i := range pubs {
		last := -1
		for _, txt := range first {
			var p, k int
			if _, err := fmt.Sscanf(txt, "p%d-%d", &p, &k); err == nil && p == i {
				if k != last+1 {
					t.Fatalf("publisher %d: line %d after %d", i, k, last)
				}
				last = k
			}
		}
	}
}

// TestDroppedLiveMessagesAreFilled: a node loses 10% of the republished
// messages; gap fill (and the position check for a lost tail) still
// delivers all of them, in order.
func TestDroppedLiveMessagesAreFilled(t *testing.T) {
	const total = 200
	var dropped atomic.Int64
	lossy := natsbroker.WithDropLive(natsbroker.Config{CheckInterval: 200 * time.Millisecond}, func() bool {
		if rand.IntN(10) == 0 {
			dropped.Add(1)
			return true
		}
		return false
	})
	ns := startNATS(t, t.TempDir())
	clean := startNode(t, ns, "clean", natsbroker.Config{}, server.Config{})
	lossyNode := startNode(t, ns, "lossy", lossy, server.Config{})

	rec, pub := subPub(t, lossyNode, clean, "lossy")
	for i := range total {
		say(t, pub, "lossy", fmt.Sprintf("m%03d", i))
	}
	rec.wait(t, "every message despite the drops", func(r *recorder) bool { return len(r.texts) >= total })
	texts, seqs, _ := rec.snapshot()
	checkSeqs(t, "subscriber on the lossy node", seqs, total)
	for i, txt := range texts {
		if want := fmt.Sprintf("m%03d", i); txt != want {
			t.Fatalf("message %d is %q, want %q", i, txt, want)
		}
	}
	if dropped.Load() == 0 {
		t.Fatal("the hook dropped nothing: the test did not test gap fill")
	}
	t.Logf("%d of %d+ republished messages dropped on the lossy node; all %d delivered in order", dropped.Load(), total, total)
}

// TestNodeDeath: a node dies abruptly. Its clients reconnect to another node
// and recover; the others see presence.leave, for a user who had no other
// connection, within NodeTTL + 2s.
func TestNodeDeath(t *testing.T) {
	const ttl = 2 * time.Second
	_, nodes := startCluster(t, 3, natsbroker.Config{NodeTTL: ttl}, server.Config{})
	a, b, c := nodes[0], nodes[1], nodes[2]

	watcher := newClient(t, c, "watcher")
	rw := newRecorder(watcher)
	tethertest.Run(t, watcher)
	join(t, watcher, "room", 0)

	// alice reaches a first, then b when a is gone.
	proxy := tethertest.NewCutProxy(t, a.addr(), b.addr())
	alice := tethertest.NewClient(t, client.Config{URL: proxy.URL("alice"), MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: quiet})
	ra := newRecorder(alice)
	tethertest.Run(t, alice)
	join(t, alice, "room", 0)
	carol := newClient(t, a, "carol") // only ever on a
	tethertest.Run(t, carol)
	join(t, carol, "room", 0)
	rw.wait(t, "watcher sees alice and carol", func(r *recorder) bool {
		return has(r.events, "join:alice") && has(r.events, "join:carol")
	})
	for i := range 5 {
		say(t, watcher, "room", fmt.Sprintf("before %d", i))
	}
	ra.wait(t, "alice has the first 5", func(r *recorder) bool { return len(r.texts) >= 5 })

	died := time.Now()
	a.kill()
	for i := range 5 {
		say(t, watcher, "room", fmt.Sprintf("after %d", i))
	}
	rw.wait(t, "watcher sees carol leave", func(r *recorder) bool { return has(r.events, "leave:carol") })
	took := time.Since(died)
	if took > ttl+2*time.Second {
		t.Errorf("carol's presence.leave came %v after her node died, want within %v", took, ttl+2*time.Second)
	}
	ra.wait(t, "alice recovers on another node", func(r *recorder) bool {
		return len(r.texts) >= 10 && len(r.joins) >= 2
	})
	texts, seqs, _ := ra.snapshot()
	checkSeqs(t, "alice", seqs, 10)
	if texts[9] != "after 4" {
		t.Errorf("alice's last message = %q, want %q", texts[9], "after 4")
	}
	ra.mu.Lock()
	rejoin := ra.joins[len(ra.joins)-1]
	ra.mu.Unlock()
	if !rejoin.Recovered {
		t.Errorf("alice's rejoin on node b: recovered false, want true")
	}
	if proxy.Accepted() < 2 {
		t.Errorf("alice connected %d times, want a reconnect", proxy.Accepted())
	}
	t.Logf("carol's leave seen %v after node a died (NodeTTL %v); alice resumed on b, recovered %v", took, ttl, rejoin.Recovered)
	// Each node's view of the bucket catches up on its own.
	tethertest.WaitUntil(t, "node b's presence without carol", func() bool {
		return !strings.Contains(members(tethertest.Presence(t, b.srv, "room")), "carol")
	})
}

func members(ms []shared.Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.User)
	}
	return strings.Join(s, ",")
}

// TestFirstPublishesRace: three nodes publish the first messages of fresh
// rooms at the same moment, with members already joined on every node: the
// room keeps the epoch its members joined in (no reset), and seqs are 1..N.
func TestFirstPublishesRace(t *testing.T) {
	const rooms, perNode = 8, 3
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	recs := map[string][]*recorder{}
	for r := range rooms {
		room := fmt.Sprintf("fresh%d", r)
		for i, n := range nodes {
			c := newClient(t, n, fmt.Sprintf("m%d-%d", r, i))
			recs[room] = append(recs[room], newRecorder(c))
			tethertest.Run(t, c)
			join(t, c, room, 0)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, n := range nodes {
		for r := range rooms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				room := fmt.Sprintf("fresh%d", r)
				for k := range perNode {
					if _, _, err := n.srv.Publish(context.Background(), room, testmsg.ChatMessage{Room: room, User: n.name, Text: fmt.Sprint(k)}); err != nil {
						t.Errorf("publish to %s on %s: %v", room, n.name, err)
						return
					}
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	for room, rs := range recs {
		for i, r := range rs {
			r.wait(t, fmt.Sprintf("member %d of %s gets all", i, room), func(r *recorder) bool { return len(r.texts) >= 3*perNode })
			_, seqs, _ := r.snapshot()
			checkSeqs(t, fmt.Sprintf("member %d of %s", i, room), seqs, 3*perNode)
		}
	}
	for _, n := range nodes {
		if st := n.broker.Stats(); st.Resets != 0 {
			t.Errorf("node %s reset %d rooms: the first publishes changed the epoch under their members", n.name, st.Resets)
		}
	}
}
