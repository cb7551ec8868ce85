package memory_test

import (
	"testing"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/broker/statetest"
)

// TestMapConformance runs the keyed-state conformance suite on the memory
// broker (one node).
func TestMapConformance(t *testing.T) {
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	statetest.Run(t, statetest.Nodes{N: 1, Open: func(int) broker.Maps { return b }}, "mem")
}
