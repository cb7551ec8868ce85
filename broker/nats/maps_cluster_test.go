package natsbroker_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// declareMap declares map name (string keys, int values) on every node.
func declareMap(t testing.TB, nodes []*node, name string) []*server.Map[string, int] {
	t.Helper()
	out := make([]*server.Map[string, int], len(nodes))
	for i, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		m, err := server.NewMap[string, int](ctx, n.srv, name, server.MapOptions{})
		cancel()
		if err != nil {
			t.Fatalf("node %s: NewMap: %v", n.name, err)
		}
		out[i] = m
	}
	return out
}

// fill sets keys k00000.. to their index, 8 writers at once.
func fill(t testing.TB, m *server.Map[string, int], from, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := from + w; i < from+n; i += 8 {
				if _, err := m.Set(context.Background(), fmt.Sprintf("k%05d", i), i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// plain returns a client copy or a server map as key → value.
func plainClient(m *client.Map[string, int]) map[string]int {
	out := map[string]int{}
	for k, e := range m.All() {
		out[k] = e.Value
	}
	return out
}

func plainServer(m *server.Map[string, int]) map[string]int {
	out := map[string]int{}
	for k, e := range m.All() {
		out[k] = e.Value
	}
	return out
}

// TestMapNodeDeathDuringSnapshot: a client subscribes through node b to a
// map of 3,000 keys; b dies after the first page of the snapshot. The
// client drops the partial snapshot, reconnects to node c, gets a full one
// and then the changes made meanwhile on node a: it ends with the same map
// as the server.
func TestMapNodeDeathDuringSnapshot(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	ms := declareMap(t, nodes, "big")
	fill(t, ms[0], 0, 3000)

	proxy := tethertest.NewCutProxy(t, b.addr(), c.addr())
	tr := &probeTransport{}
	tr.cut = func() { go b.kill() }
	cl := tethertest.NewClient(t, client.Config{URL: proxy.URL("zed"), Transport: tr, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	tethertest.Run(t, cl)
	copyOf, err := client.NewMap[string, int](cl, "big")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	// The first subscribe may fail with the connection; the client
	// subscribes again on the next one by itself.
	if err := copyOf.Subscribe(ctx); err != nil {
		t.Logf("Subscribe across the node's death: %v (the client resubscribes)", err)
	}
	if !tr.done.Load() {
		t.Fatal("the snapshot was never cut: the test did not test anything")
	}
	fill(t, ms[0], 3000, 100) // changes on a while the client moves to c
	tethertest.WaitUntil(t, "the client's copy equals the server's map", func() bool {
		want := plainServer(ms[0])
		return copyOf.Synced() && len(want) == 3100 && maps.Equal(plainClient(copyOf), want)
	})
	if got := plainServer(ms[2]); !maps.Equal(got, plainServer(ms[0])) {
		t.Errorf("node c's copy has %d keys, node a's %d", len(got), len(plainServer(ms[0])))
	}
	_ = a
}

// TestMapNATSRestartBetweenSnapshotAndChanges: a client holds a map's
// snapshot; NATS restarts; the changes made after the restart reach it, and
// its copy ends equal to the server's map.
func TestMapNATSRestartBetweenSnapshotAndChanges(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, dir)
	a := startNode(t, ns, "a", natsbroker.Config{}, server.Config{})
	b := startNode(t, ns, "b", natsbroker.Config{}, server.Config{})
	ms := declareMap(t, []*node{a, b}, "board")
	fill(t, ms[0], 0, 200)

	cl := tethertest.NewClient(t, client.Config{URL: b.wsURL("zed"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	tethertest.Run(t, cl)
	copyOf, _ := client.NewMap[string, int](cl, "board")
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := copyOf.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if copyOf.Len() != 200 {
		t.Fatalf("snapshot of %d keys, want 200", copyOf.Len())
	}

	natstest.Restart(t, ns, dir)
	for i := 200; i < 300; i++ { // writes fail until node a has reconnected
		tethertest.WaitUntil(t, fmt.Sprintf("write %d after the NATS restart", i), func() bool {
			wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
			defer wcancel()
			_, err := ms[0].Set(wctx, fmt.Sprintf("k%05d", i), i)
			return err == nil
		})
	}
	if _, err := ms[0].Delete(ctx, "k00000"); err != nil {
		t.Fatal(err)
	}
	tethertest.Poll(t, "the client's copy equals the server's map after the restart", func() error {
		want, onB, got := plainServer(ms[0]), plainServer(ms[1]), plainClient(copyOf)
		if len(want) != 299 || !maps.Equal(got, want) || !maps.Equal(onB, want) {
			return fmt.Errorf("node a has %d keys, node b %d, the client %d (synced %v); want 299 everywhere", len(want), len(onB), len(got), copyOf.Synced())
		}
		return nil
	})
}

// TestMapCASAcrossNodes: three clients on three nodes race conditional
// writes on one key through the application's write handler: each round
// exactly one wins, the others get the retryable conflict.
func TestMapCASAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	ms := declareMap(t, nodes, "score")
	for _, m := range ms {
		m.OnWrite(func(ctx context.Context, w server.ClientWrite[string, int]) (int, error) { return w.Value, nil })
	}
	copies := make([]*client.Map[string, int], 3)
	for i, n := range nodes {
		cl := tethertest.NewClient(t, client.Config{URL: n.wsURL(fmt.Sprintf("u%d", i))})
		tethertest.Run(t, cl)
		copies[i], _ = client.NewMap[string, int](cl, "score")
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		if err := copies[i].Subscribe(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	rev, err := ms[0].Set(context.Background(), "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		revs := make([]uint64, 3)
		for i, m := range copies {
			wg.Go(func() { revs[i], errs[i] = m.Set(context.Background(), "s", round*10+i, client.IfRev(rev)) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				rev = revs[i]
			case !client.IsConflict(err):
				t.Fatalf("round %d writer %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners on one revision, want 1", round, won)
		}
	}
	// And with Update, which retries on conflict, every increment counts.
	var wg sync.WaitGroup
	for _, m := range copies {
		wg.Go(func() {
			for range 5 {
				if _, err := m.Update(context.Background(), "n", func(old int, _ bool) (int, error) { return old + 1, nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	tethertest.WaitUntil(t, "15 increments everywhere", func() bool {
		v, _, _ := ms[0].Get("n")
		w, _, _ := copies[2].Get("n")
		return v == 15 && w == 15
	})
	_ = shared.CodeConflict
}
