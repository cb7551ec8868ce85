//go:build race

package server_test

// raceEnabled reports whether the tests run under the race detector, which
// slows this code down 5–10 times: timing bounds (latency percentiles) are
// checked only without it, while the figures are logged either way.
const raceEnabled = true
