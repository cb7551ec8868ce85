package server_test

import (
	"testing"

	"github.com/tetherkit/tether/internal/maptest"
	"github.com/tetherkit/tether/server"
)

// TestMemoryMapConformance runs the map conformance suite on the memory
// broker (one node).
func TestMemoryMapConformance(t *testing.T) {
	b := server.NewMemoryMaps(t.Cleanup)
	maptest.Run(t, maptest.Nodes{N: 1, Open: func(int) server.MapBroker { return b }}, "mem")
}
