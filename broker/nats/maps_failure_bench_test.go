package natsbroker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// The failure figures of docs/cluster.md, in the same run as the others
// (maps_bench_test.go). Both benchmarks fail unless the client's copy ends
// key for key equal to the server's map; ns/op is the time measured, the
// same as recover-ms/op.
//
// BenchmarkMapCutDuringSnapshot: a joiner's snapshot of the 10,000-key map
// is cut after its first page. NATS: the node serving it dies, and the
// client's next connection (the same address) reaches another node.
// Memory: the connection is cut and the client reconnects to the one node
// (the death of a memory node loses the map). Meanwhile 100 keys are
// written on the first node. recover-ms: from the cut to the complete,
// equal copy; after-cut-B: what the client read after the cut.
//
// BenchmarkMapRestartBetweenSnapshotAndChanges: a client holds the
// snapshot; then 1,000 keys change. NATS: NATS restarts (same store, same
// port) first, the writes are retried on node a until it is reconnected,
// and the client stays on node b. Memory: the client's connection is down
// while the changes are made, then it reconnects and resumes. recover-ms:
// from NATS back (memory: the network back) to the equal copy; after-B:
// what the client read after it; resnapshots: snapshots the client needed
// beyond its first (0: it caught up by changes).

// probeClient runs a client of url on tr with a short reconnect backoff and
// makes its copy of the map "bench" (not subscribed yet). lastChange
// returns the time of the copy's latest change and how many snapshots it
// took so far.
func probeClient(b *testing.B, url string, tr client.Transport) (m *client.Map[string, benchValue], lastChange func() (time.Time, int)) {
	b.Helper()
	c, err := client.New(client.Config{URL: url, Transport: tr, Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	m, err = client.NewMap[string, benchValue](c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var at time.Time
	snaps := 0
	m.OnChange(func(ch client.Change[string, benchValue]) {
		mu.Lock()
		defer mu.Unlock()
		at = time.Now()
		if ch.Op == client.ChangeSnapshot {
			snaps++
		}
	})
	return m, func() (time.Time, int) { mu.Lock(); defer mu.Unlock(); return at, snaps }
}

// waitEqual waits until the server map's copy on its node and then the
// client's copy are in step at revision rev or after, then fails unless
// they are equal key for key.
func waitEqual(b *testing.B, m *client.Map[string, benchValue], sm *server.Map[string, benchValue], rev uint64) {
	b.Helper()
	tethertest.WaitUntil(b, "the node's map has the writes", func() bool { _, r := sm.Position(); return r >= rev })
	_, want := sm.Position()
	tethertest.WaitUntil(b, "the client's copy catches up", func() bool { _, r := m.Position(); return m.Synced() && r >= want })
	got, srv := m.All(), sm.All()
	if len(got) != len(srv) {
		b.Fatalf("the client's copy has %d keys, the server's map %d", len(got), len(srv))
	}
	for k, e := range srv {
		if g, ok := got[k]; !ok || g.Value != e.Value || g.Rev != e.Rev {
			b.Fatalf("key %q: the client has %+v (present %v), the server %+v", k, g, ok, e)
		}
	}
}

// benchWrite sets keys from..from+n-1 of the map through sm, 8 at once,
// each retried until it is written (within waitTime), and returns the
// highest revision written.
func benchWrite(b *testing.B, sm *server.Map[string, benchValue], from, n, points int) uint64 {
	b.Helper()
	var top atomic.Uint64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := from + w; i < from+n; i += 8 {
				key := fmt.Sprintf("player-%05d", i)
				tethertest.WaitUntil(b, "a write of "+key, func() bool {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					rev, err := sm.Set(ctx, key, benchValue{Name: fmt.Sprintf("Player %d", i), Points: points})
					for old := top.Load(); err == nil && rev > old && !top.CompareAndSwap(old, rev); old = top.Load() {
					}
					return err == nil
				})
			}
		})
	}
	wg.Wait()
	return top.Load()
}

func BenchmarkMapCutDuringSnapshot(b *testing.B) {
	for _, kind := range []string{"memory", "nats"} {
		b.Run(kind, func(b *testing.B) {
			var total time.Duration
			var after int64
			for i := range b.N {
				b.StopTimer()
				nodes := benchCluster(b, kind, 3)
				tr := &probeTransport{}
				var proxy *tethertest.CutProxy
				if kind == "memory" {
					proxy = tethertest.NewCutProxy(b, nodes[0].addr)
					tr.cut = func() { go proxy.Cut() }
				} else {
					victim := nodes[1].n
					proxy = tethertest.NewCutProxy(b, nodes[1].addr, nodes[2].addr)
					tr.cut = func() { go victim.kill() }
				}
				m, last := probeClient(b, proxy.URL(fmt.Sprintf("cut%d", i)), tr)
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				_ = m.Subscribe(ctx) // it may fail with the connection: the client subscribes again by itself
				cancel()
				if !tr.done.Load() {
					b.Fatal("the snapshot was never cut: nothing was measured")
				}
				rev := benchWrite(b, nodes[0].m, 0, 100, -i)
				waitEqual(b, m, nodes[0].m, rev)
				b.StopTimer()
				at, _ := last()
				total += at.Sub(tr.cutAt)
				after += tr.read.Load() - tr.atCut
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "recover-ms/op")
			b.ReportMetric(float64(after)/float64(b.N), "after-cut-B/op")
		})
	}
}

func BenchmarkMapRestartBetweenSnapshotAndChanges(b *testing.B) {
	const changes = 1000
	for _, kind := range []string{"memory", "nats"} {
		b.Run(kind, func(b *testing.B) {
			var total, outage time.Duration
			var after int64
			resnaps := 0
			for i := range b.N {
				b.StopTimer()
				var nodes []benchNode
				var url string
				tr := &probeTransport{}
				var back time.Time // when the network or NATS is back
				var before int64   // the bytes the client had read then
				var restart func() // between snapshot and changes
				var rev uint64     // the last change's revision
				if kind == "memory" {
					nodes = benchCluster(b, kind, 1)
					proxy := tethertest.NewCutProxy(b, nodes[0].addr)
					url = proxy.URL(fmt.Sprintf("r%d", i))
					restart = func() {
						proxy.Shut()
						rev = benchWrite(b, nodes[0].m, 0, changes, i+1) // while the client is away
						back, before = time.Now(), tr.read.Load()
						proxy.Open()
					}
				} else {
					dir := b.TempDir()
					ns := startNATS(b, dir)
					a := startNode(b, ns, "a", natsbroker.Config{}, server.Config{})
					bn := startNode(b, ns, "b", natsbroker.Config{}, server.Config{})
					nodes = benchNodes(b, []*node{a, bn})
					url = nodes[1].url + fmt.Sprintf("r%d", i)
					restart = func() {
						natstest.Restart(b, ns, dir)
						back, before = time.Now(), tr.read.Load()
					}
				}
				m, last := probeClient(b, url, tr)
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				err := m.Subscribe(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if m.Len() != benchKeys {
					b.Fatalf("snapshot of %d keys, want %d", m.Len(), benchKeys)
				}
				restart()
				b.StartTimer()
				if kind != "memory" {
					first := time.Now()
					benchWrite(b, nodes[0].m, 0, 1, i+1) // the first write that goes through
					outage += time.Since(first)
					rev = benchWrite(b, nodes[0].m, 1, changes-1, i+1)
				}
				waitEqual(b, m, nodes[0].m, rev)
				b.StopTimer()
				at, snaps := last()
				total += at.Sub(back)
				after += tr.read.Load() - before
				resnaps += snaps - 1
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "recover-ms/op")
			b.ReportMetric(float64(after)/float64(b.N), "after-B/op")
			b.ReportMetric(float64(resnaps)/float64(b.N), "resnapshots/op")
			if kind != "memory" {
				b.ReportMetric(float64(outage.Milliseconds())/float64(b.N), "write-outage-ms/op")
			}
		})
	}
}
