package client

import (
	"math/rand/v2"
	"time"
)

// backoff returns how long to wait before reconnecting after the attempt-th
// failure in a row (attempt ≥ 1): a uniformly random duration in
// [min, min(max, min·2^attempt)]. The randomness ("full jitter" above the
// floor) spreads out clients that lost the same server at the same moment;
// the floor keeps a flapping server from being hammered.
func backoff(attempt int, min, max time.Duration, rnd *rand.Rand) time.Duration {
	if max < min {
		max = min
	}
	ceiling := max
	if attempt < 1 {
		attempt = 1
	}
	// min·2^attempt overflows or passes max long before attempt reaches 62.
	if attempt < 62 {
		if c := min << attempt; c > 0 && c>>attempt == min && c < max {
			ceiling = c
		}
	}
	span := ceiling - min
	if span <= 0 {
		return min
	}
	return min + time.Duration(rnd.Int64N(int64(span)+1))
}
