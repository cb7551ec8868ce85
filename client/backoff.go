package client

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tetherkit/tether/shared"
)

// goingAwayAttempt is the failure count a server's 1001 (going away:
// shutdown or restart) counts as at least. Every client of that server lost
// it at the same moment; waiting as after the fifth failure in a row spreads
// their reconnects over [min, 16·min] (0.5–8 s by default: 10,000 clients
// come back at about 1,300 a second) instead of half a MinBackoff.
const goingAwayAttempt = 5

// backoff returns how long to wait before reconnecting after the attempt-th
// failure in a row (attempt ≥ 1).
//
// The first wait after a drop is fast: random in [min/2, min]. After that the
// window doubles: random in [min, min(max, min·2^(attempt-1))]. The
// randomness ("full jitter" above the floor) spreads out clients that lost
// the same server at the same moment; the floor and the growth keep a server
// that cannot take connections from being hammered.
func backoff(attempt int, min, max time.Duration, rnd *rand.Rand) time.Duration {
	if max < min {
		max = min
	}
	if attempt <= 1 {
		lo := min / 2
		return lo + time.Duration(rnd.Int64N(int64(min-lo)+1))
	}
	ceiling := max
	// min·2^(attempt-1) overflows or passes max long before attempt reaches 62.
	if n := attempt - 1; n < 62 {
		if c := min << n; c > 0 && c>>n == min && c < max {
			ceiling = c
		}
	}
	span := ceiling - min
	if span <= 0 {
		return min
	}
	return min + time.Duration(rnd.Int64N(int64(span)+1))
}

// retryAttempt is the failure count whose window the wait after err uses:
// attempt, or more when the server said it is going away.
func retryAttempt(attempt int, err error) int {
	if code := closeCode(err); code == shared.CloseGoingAway {
		return max(attempt, goingAwayAttempt)
	}
	return attempt
}

// closeCode is the WebSocket close code in err, 0 when there is none.
func closeCode(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
