package memory

import (
	"time"
	"unsafe"

	"github.com/tetherkit/tether/broker"
)

// history is a room's bounded replay buffer in the memory broker: the newest
// size publications not older than ttl, with consecutive seqs. It is not
// safe for concurrent use; its room's lock guards it.
type history struct {
	size     int                  // 0: keep nothing
	ttl      time.Duration        // <= 0: no age limit
	maxBytes int64                // bound of payloads + pubOverhead each; <= 0: none
	entries  []broker.Publication // oldest first, seqs consecutive
	payload  int64                // bytes of the entries' payloads
}

// pubOverhead is what a kept publication costs besides its payload: its
// slot in the entries array.
const pubOverhead = int64(unsafe.Sizeof(broker.Publication{}))

func newHistory(size int, ttl time.Duration) history {
	return history{size: size, ttl: ttl}
}

// add appends a publication, dropping the oldest beyond size and beyond
// maxBytes.
func (h *history) add(p broker.Publication) {
	if h.size <= 0 {
		return
	}
	h.entries = append(h.entries, p)
	h.payload += int64(len(p.Payload))
	over := max(len(h.entries)-h.size, 0)
	if h.maxBytes > 0 {
		kept := h.payload
		for _, e := range h.entries[:over] {
			kept -= int64(len(e.Payload))
		}
		for over < len(h.entries) && kept+int64(len(h.entries)-over)*pubOverhead > h.maxBytes {
			kept -= int64(len(h.entries[over].Payload))
			over++
		}
	}
	h.cut(over)
}

// cut drops the n oldest publications.
func (h *history) cut(n int) {
	if n <= 0 {
		return
	}
	for _, e := range h.entries[:n] {
		h.payload -= int64(len(e.Payload))
	}
	clear(h.entries[:n]) // let the payloads be collected
	h.entries = h.entries[n:]
	if len(h.entries) == 0 {
		h.entries = nil // release the array
	}
}

// drop forgets every publication and returns how many there were.
func (h *history) drop() int {
	n := len(h.entries)
	h.entries, h.payload = nil, 0
	return n
}

// bytes is the memory the history holds: the payloads and the entries
// array.
func (h *history) bytes() int64 { return h.payload + int64(cap(h.entries))*pubOverhead }

// expire drops the publications older than ttl at now.
func (h *history) expire(now time.Time) {
	if h.ttl <= 0 {
		return
	}
	cut := 0
	for cut < len(h.entries) && now.Sub(h.entries[cut].Time) > h.ttl {
		cut++
	}
	h.cut(cut)
}

// len is the number of publications kept.
func (h *history) len() int { return len(h.entries) }

// since returns the kept publications with a seq above since, at most limit
// of them, oldest first. Call expire first.
func (h *history) since(since uint64, limit int) []broker.Publication {
	if len(h.entries) == 0 || limit <= 0 {
		return nil
	}
	start := 0
	if first := h.entries[0].Seq; since >= first {
		start = int(min(since-first+1, uint64(len(h.entries))))
	}
	end := min(start+limit, len(h.entries))
	return h.entries[start:end:end]
}

// before returns the newest limit kept publications with a seq below before
// (0: below none, i.e. the newest of all), oldest first. Call expire first.
func (h *history) before(before uint64, limit int) []broker.Publication {
	if len(h.entries) == 0 || limit <= 0 {
		return nil
	}
	end := len(h.entries)
	if first := h.entries[0].Seq; before != 0 {
		if before <= first {
			return nil
		}
		end = int(min(before-first, uint64(len(h.entries))))
	}
	start := max(end-limit, 0)
	return h.entries[start:end:end]
}
