package natsbroker_test

import (
	"github.com/tetherkit/tether/broker"
	"testing"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/broker/statetest"
	"github.com/tetherkit/tether/server"
)

// TestMapConformance runs the map conformance suite on three NATS brokers
// (three nodes) of one embedded NATS.
func TestMapConformance(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	statetest.Run(t, statetest.Nodes{N: 3, Open: func(i int) broker.Maps { return nodes[i].broker }}, "nats")
}
