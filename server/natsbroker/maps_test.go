package natsbroker_test

import (
	"testing"

	"github.com/tetherkit/tether/internal/maptest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/natsbroker"
)

// TestMapConformance runs the map conformance suite on three NATS brokers
// (three nodes) of one embedded NATS.
func TestMapConformance(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	maptest.Run(t, maptest.Nodes{N: 3, Open: func(i int) server.MapBroker { return nodes[i].broker }}, "nats")
}
