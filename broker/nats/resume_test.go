package natsbroker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestResumeAcrossNodes: a publisher sends 1,000 room messages while the
// subscriber's network is cut at random points, each reconnect landing on
// a different node; the subscriber ends with all 1,000, each once, in
// order.
func TestResumeAcrossNodes(t *testing.T) {
	const total = 1000
	_, nodes := startCluster(t, 3, natsbroker.Config{HistorySize: 2 * total}, server.Config{MaxReplay: 2 * total})
	proxy := tethertest.NewCutProxy(t, nodes[0].addr(), nodes[1].addr(), nodes[2].addr())

	sub := tethertest.NewClient(t, client.Config{URL: proxy.URL("sub"), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet})
	rec := tethertest.RecordChat(sub, total)
	tethertest.Run(t, sub)
	join(t, sub, "resume", 0)

	pub := newClient(t, nodes[0], "pub")
	tethertest.Run(t, pub)
	join(t, pub, "resume", 0)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	cutAt := map[int]bool{}
	for len(cutAt) < 8 {
		cutAt[1+rng.IntN(total-1)] = true
	}
	for i := 1; i <= total; i++ {
		if cutAt[i] {
			proxy.Cut()
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		_, err := client.Request[shared.Reply](ctx, pub, testmsg.ChatSend{Room: "resume", Text: fmt.Sprintf("m%04d", i)})
		cancel()
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	rec.Wait(2 * waitTime)
	tethertest.CheckSequence(t, fmt.Sprintf("seed %d", seed), rec.Texts(), "m%04d", total)
	joins, recovered := rec.Joins()
	if recovered == 0 {
		t.Fatalf("seed %d: %d joins, none recovered", seed, joins)
	}
	t.Logf("seed %d: 8 cuts, %d connections over 3 nodes, %d joins, %d recovered, %d messages in order", seed, proxy.Accepted(), joins, recovered, total)
}

// TestNATSConnectionLoss: a node's NATS connection drops while another node
// publishes; when it is back, its members have every message (the gap is
// filled) or, if the stream could not fill it, a resume that says
// recovered false: never a silent gap.
func TestNATSConnectionLoss(t *testing.T) {
	const total = 100
	ns := startNATS(t, t.TempDir())
	natsLink := tethertest.NewCutProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	a := startNode(t, ns, "a", natsbroker.Config{CheckInterval: 200 * time.Millisecond}, server.Config{})
	b := startNodeVia(t, "nats://"+natsLink.Addr(), "b", natsbroker.Config{CheckInterval: 200 * time.Millisecond}, server.Config{})

	rec, pub := subPub(t, b, a, "flaky")
	for i := range total {
		if i == total/2 {
			natsLink.Cut() // node b loses NATS; it reconnects through the proxy
		}
		say(t, pub, "flaky", fmt.Sprintf("m%03d", i))
	}
	rec.wait(t, "every message, or a resume", func(r *recorder) bool {
		return len(r.texts) >= total || len(r.joins) > 1
	})
	texts, seqs, _ := rec.snapshot()
	rec.mu.Lock()
	joins := append([]shared.Joined(nil), rec.joins...)
	rec.mu.Unlock()
	if len(texts) >= total {
		checkSeqs(t, "subscriber on node b", seqs, total)
		t.Logf("node b lost NATS at message %d and filled the gap: %d messages in order, %d NATS connections", total/2, len(texts), natsLink.Accepted())
		return
	}
	// Resumed instead: the join says whether it recovered; a gap with
	// recovered true would be silent.
	last := joins[len(joins)-1]
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 && last.Recovered {
			t.Fatalf("gap %d → %d with recovered true", seqs[i-1], seqs[i])
		}
	}
	t.Logf("node b resumed its members: recovered %v", last.Recovered)
}

// TestNATSRestart: the NATS server itself restarts (same store, same port)
// while two nodes serve a room. Afterwards the room goes on where it was:
// every message once, in order, or a resume that says recovered false —
// never a silent gap — and presence still works.
func TestNATSRestart(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, dir)
	cfg := natsbroker.Config{CheckInterval: 200 * time.Millisecond}
	a := startNode(t, ns, "a", cfg, server.Config{})
	b := startNode(t, ns, "b", cfg, server.Config{})

	rec, pub := subPub(t, b, a, "restart")
	for i := range 10 {
		say(t, pub, "restart", fmt.Sprintf("m%02d", i))
	}
	rec.wait(t, "the first 10", func(r *recorder) bool { return len(r.texts) >= 10 })

	natstest.Restart(t, ns, dir) // same store, same port
	// Publishing fails until the nodes have reconnected; retry each line.
	for i := 10; i < 20; i++ {
		text := fmt.Sprintf("m%02d", i)
		tethertest.WaitUntil(t, "publish "+text+" after the NATS restart", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := client.Request[shared.Reply](ctx, pub, testmsg.ChatSend{Room: "restart", Text: text})
			return err == nil
		})
	}
	rec.wait(t, "all 20, or a resume", func(r *recorder) bool { return len(r.texts) >= 20 || len(r.joins) > 1 })
	texts, seqs, _ := rec.snapshot()
	rec.mu.Lock()
	joins := append([]shared.Joined(nil), rec.joins...)
	rec.mu.Unlock()
	if len(texts) >= 20 && len(joins) == 1 {
		checkSeqs(t, "subscriber", seqs[:20], 20)
	} else if last := joins[len(joins)-1]; last.Recovered {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 && seqs[i] > seqs[i-1] {
				t.Fatalf("gap %d → %d with recovered true", seqs[i-1], seqs[i])
			}
		}
	}
	// Presence survived: a newcomer on a is seen on b.
	carol := newClient(t, a, "carol")
	tethertest.Run(t, carol)
	join(t, carol, "restart", 0)
	rec.wait(t, "sub sees carol join after the restart", func(r *recorder) bool { return has(r.events, "join:carol") })
	t.Logf("after the NATS restart: %d messages, %d joins, stats a %+v b %+v", len(texts), len(joins), a.broker.Stats(), b.broker.Stats())
}
