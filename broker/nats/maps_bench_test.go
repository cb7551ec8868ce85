package natsbroker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// The keyed-state figures of docs/cluster.md, memory and NATS side by side
// in one run:
//
//	go test -run '^$' -bench 'BenchmarkMap' -benchtime 5x ./broker/nats/
//
// BenchmarkMapSnapshot: a joiner's time to a complete snapshot of 10,000
// keys (ns/op: from dial to Subscribe's return) and its bytes on the wire.
// BenchmarkMapChanges: the bytes on the wire of that snapshot plus 1,000
// changes, and the time until the copy has them all. BenchmarkMapCASRace:
// three writers on three nodes (memory: one node) race a conditional write
// on one key, 20 rounds an op; exactly one wins per revision (µs/round,
// conflicts/round: the two losers).

// benchKeys is the size of the benchmarks' map.
const benchKeys = 10_000

// benchValue is a map value of the benchmarks: a scoreboard line.
type benchValue struct {
	Name   string `json:"name"`
	Points int    `json:"points"`
}

// benchNode is a Tether node of a benchmark: its server's map, its
// WebSocket URL without the user, its host:port, and on NATS the node.
type benchNode struct {
	url  string
	addr string
	m    *server.Map[string, benchValue]
	n    *node // nil on memory
}

// benchCluster starts n nodes on kind's broker ("memory": one node, n
// ignored; "nats": a NATS server of its own) with the map "bench" filled
// with benchKeys keys.
func benchCluster(b *testing.B, kind string, n int) []benchNode {
	b.Helper()
	if kind == "memory" {
		s, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity, Logger: quiet, MessageRate: -1})
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ws", s)
		ts := httptest.NewServer(mux)
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTime)
			defer cancel()
			_ = s.Shutdown(ctx)
			ts.Close()
		})
		nodes := []benchNode{{url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?user=", addr: strings.TrimPrefix(ts.URL, "http://"), m: benchMap(b, s)}}
		benchFill(b, nodes)
		return nodes
	}
	_, cl := startCluster(b, n, natsbroker.Config{}, server.Config{})
	return benchNodes(b, cl)
}

// benchNodes declares the map "bench" on the NATS nodes and fills it.
func benchNodes(b *testing.B, cl []*node) []benchNode {
	b.Helper()
	var nodes []benchNode
	for _, nd := range cl {
		nodes = append(nodes, benchNode{url: strings.TrimSuffix(nd.wsURL("x"), "x"), addr: nd.addr(), m: benchMap(b, nd.srv), n: nd})
	}
	benchFill(b, nodes)
	return nodes
}

// benchMap declares the map "bench" on s, writable by clients.
func benchMap(b *testing.B, s *server.Server) *server.Map[string, benchValue] {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	m, err := server.NewMap[string, benchValue](ctx, s, "bench", server.MapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m.OnWrite(func(ctx context.Context, w server.ClientWrite[string, benchValue]) (benchValue, error) {
		return w.Value, nil
	})
	return m
}

// benchFill writes the benchKeys keys through the first node and waits
// until every node holds them.
func benchFill(b *testing.B, nodes []benchNode) {
	b.Helper()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < benchKeys; i += 16 {
				if _, err := nodes[0].m.Set(context.Background(), fmt.Sprintf("player-%05d", i), benchValue{Name: fmt.Sprintf("Player %d", i), Points: i}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, nd := range nodes {
		tethertest.WaitUntil(b, "every node holds the map", func() bool {
			_, rev := nd.m.Position()
			_, r0 := nodes[0].m.Position()
			return rev >= r0 && len(nd.m.All()) == benchKeys
		})
	}
}

// subscribeClient connects a client to url and subscribes it to the map;
// it returns the copy and the client's cancel.
func subscribeClient(b *testing.B, url string, tr client.Transport) (*client.Map[string, benchValue], func()) {
	b.Helper()
	c, err := client.New(client.Config{URL: url, Transport: tr, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	m, err := client.NewMap[string, benchValue](c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := m.Subscribe(sctx); err != nil {
		b.Fatal(err)
	}
	return m, func() { cancel(); <-done }
}

func BenchmarkMapSnapshot(b *testing.B) {
	for _, kind := range []string{"memory", "nats"} {
		b.Run(kind, func(b *testing.B) {
			nodes := benchCluster(b, kind, 1)
			var bytes int64
			for i := 0; b.Loop(); i++ {
				tr := &probeTransport{}
				m, stop := subscribeClient(b, nodes[0].url+fmt.Sprintf("s%d", i), tr)
				if m.Len() != benchKeys {
					b.Fatalf("snapshot of %d keys, want %d", m.Len(), benchKeys)
				}
				bytes += tr.read.Load()
				stop()
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "wire-B/op")
		})
	}
}

func BenchmarkMapChanges(b *testing.B) {
	const changes = 1000
	for _, kind := range []string{"memory", "nats"} {
		b.Run(kind, func(b *testing.B) {
			nodes := benchCluster(b, kind, 2)
			writer := nodes[len(nodes)-1].m // in a cluster, the changes are made on another node
			var snapBytes, allBytes int64
			for i := 0; b.Loop(); i++ {
				tr := &probeTransport{}
				m, stop := subscribeClient(b, nodes[0].url+fmt.Sprintf("c%d", i), tr)
				snapBytes += tr.read.Load()
				var last uint64
				for k := range changes {
					rev, err := writer.Set(context.Background(), fmt.Sprintf("player-%05d", k), benchValue{Name: fmt.Sprintf("Player %d", k), Points: i*changes + k})
					if err != nil {
						b.Fatal(err)
					}
					last = rev
				}
				tethertest.WaitUntil(b, "the copy has the 1,000 changes", func() bool { _, rev := m.Position(); return rev >= last })
				allBytes += tr.read.Load()
				stop()
			}
			b.ReportMetric(float64(snapBytes)/float64(b.N), "snapshot-B/op")
			b.ReportMetric(float64(allBytes)/float64(b.N), "snapshot+1000changes-B/op")
			b.ReportMetric(float64(allBytes-snapBytes)/float64(b.N*changes), "B/change")
		})
	}
}

// casRounds is how many races of BenchmarkMapCASRace make one op.
const casRounds = 20

func BenchmarkMapCASRace(b *testing.B) {
	for _, kind := range []string{"memory", "nats"} {
		b.Run(kind, func(b *testing.B) {
			nodes := benchCluster(b, kind, 3)
			copies := make([]*client.Map[string, benchValue], 3)
			for i := range copies {
				m, stop := subscribeClient(b, nodes[i%len(nodes)].url+fmt.Sprintf("w%d", i), nil)
				b.Cleanup(stop)
				copies[i] = m
			}
			rev, err := nodes[0].m.Set(context.Background(), "race", benchValue{})
			if err != nil {
				b.Fatal(err)
			}
			conflicts := 0
			b.ResetTimer()
			// A plain b.N loop: with b.Loop, go1.26.8's compiler crashes on
			// this body (an internal compiler error in net/http's mapping).
			for round := range b.N * casRounds {
				var wg sync.WaitGroup
				errs := make([]error, 3)
				revs := make([]uint64, 3)
				for i, m := range copies {
					wg.Go(func() {
						revs[i], errs[i] = m.Set(context.Background(), "race", benchValue{Points: round}, client.IfRev(rev))
					})
				}
				wg.Wait()
				won := 0
				for i, err := range errs {
					switch {
					case err == nil:
						won++
						rev = revs[i]
					case client.IsConflict(err):
						conflicts++
					default:
						b.Fatalf("round %d writer %d: %v", round, i, err)
					}
				}
				if won != 1 {
					b.Fatalf("round %d: %d winners on one revision, want exactly 1", round, won)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*casRounds), "µs/round")
			b.ReportMetric(float64(conflicts)/float64(b.N*casRounds), "conflicts/round")
		})
	}
}
