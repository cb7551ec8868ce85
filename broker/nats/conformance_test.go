package natsbroker_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/brokertest"
	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/internal/natstest"
)

// TestConformance runs the broker conformance suite on up to three nodes
// of one embedded nats-server (a fresh one for each test of the suite).
func TestConformance(t *testing.T) {
	urls := map[broker.Broker]string{} // the NATS server of each node; the suite's tests run one at a time
	brokertest.Run(t, brokertest.Suite{
		MaxNodes: 3,
		New: func(t *testing.T, s brokertest.Setup) []broker.Broker {
			ns := natstest.Start(t, t.TempDir(), 0)
			nodes := make([]broker.Broker, s.Nodes)
			for i := range nodes {
				nc, err := nats.Connect(ns.ClientURL())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				b, err := natsbroker.New(ctx, natsbroker.Config{Conn: nc, HistorySize: s.HistorySize, Logger: quiet})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				nodes[i], urls[b] = b, ns.ClientURL()
			}
			return nodes
		},
		// The room's messages are purged from the stream, as an operator
		// could; the epoch bucket keeps the room's epoch, marked used.
		LoseHistory: func(t *testing.T, nodes []broker.Broker, room string) {
			nc, err := nats.Connect(urls[nodes[0]])
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTime)
			defer cancel()
			stream, err := js.Stream(ctx, natsbroker.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Purge(ctx, jetstream.WithPurgeSubject(natsbroker.RoomSubject(room))); err != nil {
				t.Fatalf("purge %q: %v", room, err)
			}
		},
	})
}
