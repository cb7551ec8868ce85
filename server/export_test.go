package server

import "time"

// NewMemoryMaps returns the memory broker's MapBroker, for the conformance
// suite (internal/maptest). Its expiry timers stop when the test ends.
func NewMemoryMaps(cleanup func(func())) MapBroker {
	m := newMemoryMaps(time.Now)
	cleanup(m.close)
	return m
}
