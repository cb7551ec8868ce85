package server

import "time"

// entry is one published room message as kept for replay.
type entry struct {
	seq   uint64
	at    time.Time
	frame *outFrame // prepared once for every member and every replay
}

// history is a room's bounded replay buffer: the newest size messages not
// older than ttl, with consecutive seqs. It is not safe for concurrent use;
// its room's lock guards it.
type history struct {
	size    int           // 0: keep nothing
	ttl     time.Duration // <= 0: no age limit
	entries []entry       // oldest first, seqs consecutive
}

func newHistory(size int, ttl time.Duration) history {
	return history{size: size, ttl: ttl}
}

// add appends a message, dropping the oldest beyond size.
func (h *history) add(e entry) {
	if h.size <= 0 {
		return
	}
	h.entries = append(h.entries, e)
	if over := len(h.entries) - h.size; over > 0 {
		clear(h.entries[:over]) // let the frames be collected
		h.entries = h.entries[over:]
	}
}

// expire drops the messages older than ttl at now.
func (h *history) expire(now time.Time) {
	if h.ttl <= 0 {
		return
	}
	cut := 0
	for cut < len(h.entries) && now.Sub(h.entries[cut].at) > h.ttl {
		cut++
	}
	if cut > 0 {
		clear(h.entries[:cut])
		h.entries = h.entries[cut:]
	}
	if len(h.entries) == 0 {
		h.entries = nil // release the array
	}
}

// len is the number of messages kept.
func (h *history) len() int { return len(h.entries) }

// after returns every message with a seq above since, and whether the buffer
// holds all of them, i.e. whether a client at since can catch up up to
// head without a gap. Call expire first.
func (h *history) after(since, head uint64) ([]entry, bool) {
	if since >= head {
		return nil, since == head
	}
	if len(h.entries) == 0 || h.entries[0].seq > since+1 || h.entries[len(h.entries)-1].seq != head {
		return nil, false
	}
	start := int(since + 1 - h.entries[0].seq)
	return h.entries[start:], true
}

// last returns the newest n messages (fewer when fewer are kept). Call
// expire first.
func (h *history) last(n int) []entry {
	if n <= 0 {
		return nil
	}
	if n > len(h.entries) {
		n = len(h.entries)
	}
	return h.entries[len(h.entries)-n:]
}
