package memory

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHistorySize     = 1000
	DefaultHistoryTTL      = 2 * time.Minute
	DefaultHistoryBytes    = 1 << 20   // per room
	DefaultHistoryMemory   = 256 << 20 // all rooms
	DefaultIdempotencyKeys = 1000      // per user
)

// Config configures a memory Broker. The zero value is usable: every zero
// field has the default documented on it.
type Config struct {
	// HistorySize is how many messages each room keeps for replay. With
	// HistoryTTL's default it lets a client resume after an outage of up to
	// 2 minutes in a room that gets up to 8 messages a second. Zero means
	// 1000 (DefaultHistorySize); negative means no history.
	HistorySize int
	// HistoryTTL is how long a room message is kept for replay. Zero means
	// 2m (DefaultHistoryTTL); negative means until pushed out by
	// HistorySize or HistoryBytes.
	HistoryTTL time.Duration
	// HistoryBytes bounds each room's history in bytes (the messages'
	// encoded envelopes plus about 100 bytes of bookkeeping each): the oldest
	// messages go first. Zero means 1 MiB (DefaultHistoryBytes); negative
	// means no byte bound.
	HistoryBytes int64
	// HistoryMemory is the budget for the history of all rooms, counted as
	// HistoryBytes is. When a publication takes the total over it, the
	// whole history of the rooms that have gone longest without a message is
	// dropped, oldest first, until the total is at most 90% of it (never the
	// room just published to); their members then resume with recovered
	// false. Zero means 256 MiB (DefaultHistoryMemory); negative means no
	// budget.
	HistoryMemory int64
	// IdempotencyKeys is how many keyed requests (docs/protocol.md §3) the
	// broker remembers per user, each for the window the server asks for,
	// so that a request sent again with the same key is answered without
	// running twice. Zero means 1000 (DefaultIdempotencyKeys); negative
	// means none is remembered (every keyed request runs).
	IdempotencyKeys int
	// Clock is the clock of the history's TTL and of the idempotency window.
	// Nil means time.Now.
	Clock func() time.Time
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.HistorySize == 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	if cfg.HistoryTTL == 0 {
		cfg.HistoryTTL = DefaultHistoryTTL
	}
	if cfg.HistoryBytes == 0 {
		cfg.HistoryBytes = DefaultHistoryBytes
	}
	if cfg.HistoryMemory == 0 {
		cfg.HistoryMemory = DefaultHistoryMemory
	}
	if cfg.IdempotencyKeys == 0 {
		cfg.IdempotencyKeys = DefaultIdempotencyKeys
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return cfg
}

// randomID returns 8 random bytes in hex: room epochs.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}
