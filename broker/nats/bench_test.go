package natsbroker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// BenchmarkClusterPublish publishes into one room from three nodes in turn;
// 30 members per node receive each message. It reports deliveries/s.
func BenchmarkClusterPublish(b *testing.B) {
	_, nodes := startCluster(b, 3, natsbroker.Config{}, server.Config{})
	var got atomic.Int64
	const perNode = 30
	for _, nd := range nodes {
		for k := range perNode {
			c := tethertest.NewClient(b, client.Config{URL: nd.wsURL(fmt.Sprintf("u%s%d", nd.name, k)), Logger: quiet})
			client.On(c, func(testmsg.ChatMessage) { got.Add(1) })
			tethertest.Run(b, c)
			join(b, c, "bench", 0)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, _, err := nodes[i%len(nodes)].srv.Publish(context.Background(), "bench", testmsg.ChatMessage{Room: "bench", User: "x", Text: "a benchmark line"}); err != nil {
			b.Fatal(err)
		}
	}
	drain(b, nodes, &got, int64(b.N*len(nodes)*perNode), start)
}

// benchNodeStats describes the cluster's and the nodes' brokers' counters,
// for a failure.
func benchNodeStats(tb testing.TB, nodes []*node) string {
	s := []string{fmt.Sprintf("cluster: dropped %d", tethertest.Stats(tb, nodes[0].srv).Dropped)}
	for _, n := range nodes {
		s = append(s, fmt.Sprintf("%s: broker %+v", n.name, n.broker.Stats()))
	}
	return strings.Join(s, "; ")
}

// drain waits up to waitTime for got to reach want deliveries, stops the
// timer, fails the benchmark short of want and otherwise reports the
// deliveries/s since start and the publishes' retries.
func drain(b *testing.B, nodes []*node, got *atomic.Int64, want int64, start time.Time) {
	b.Helper()
	for deadline := time.Now().Add(waitTime); got.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // a benchmark's drain, not a test's synchronisation
	}
	b.StopTimer()
	if got.Load() < want {
		b.Fatalf("received %d of %d (%s)", got.Load(), want, benchNodeStats(b, nodes))
	}
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "deliveries/s")
	reportRetries(b, nodes)
}

// reportRetries reports the publishes that lost a race, per publish.
func reportRetries(b *testing.B, nodes []*node) {
	var pub, retries uint64
	for _, n := range nodes {
		st := n.broker.Stats()
		pub += st.Published
		retries += st.Retries
	}
	b.ReportMetric(float64(retries)/float64(max(pub, 1)), "retries/publish")
}

// BenchmarkClusterPublishRooms publishes concurrently into 10 rooms from
// the three nodes; 6 members per room per node.
func BenchmarkClusterPublishRooms(b *testing.B) {
	_, nodes := startCluster(b, 3, natsbroker.Config{}, server.Config{})
	var got atomic.Int64
	const rooms, perNode = 10, 6
	for _, nd := range nodes {
		for r := range rooms {
			for k := range perNode {
				c := tethertest.NewClient(b, client.Config{URL: nd.wsURL(fmt.Sprintf("u%s%d-%d", nd.name, r, k)), Logger: quiet})
				client.On(c, func(testmsg.ChatMessage) { got.Add(1) })
				tethertest.Run(b, c)
				join(b, c, fmt.Sprintf("room%d", r), 0)
			}
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			room := fmt.Sprintf("room%d", i%rooms)
			if _, _, err := nodes[i%int64(len(nodes))].srv.Publish(context.Background(), room, testmsg.ChatMessage{Room: room, User: "x", Text: "a benchmark line"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	drain(b, nodes, &got, int64(b.N*len(nodes)*perNode), start)
}
