package server

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// Observer receives the server's events, for metrics. Every method must be
// fast, must not block and must be safe for concurrent use: they are called
// on the hot paths of every connection. Gauges (connections, users, rooms)
// are read from Stats instead.
type Observer interface {
	// Types is called once, by New, before any other method, with the
	// server's message registry (Config.Registry or its default): the wire
	// types MessageIn and MessageOut may report as known. An Observer given
	// to several servers gets one call for each.
	Types(r *shared.Registry)
	// HandshakeDone is called once per WebSocket handshake attempt with its
	// outcome: "ok", "unauthorized", "forbidden_origin", "banned", "too_many",
	// "failed".
	HandshakeDone(outcome string, took time.Duration)
	// ConnClosed is called once per upgraded connection with its close code.
	ConnClosed(code int)
	// MessageIn is called for every data frame received, with its wire type
	// ("" when it could not be decoded) and size in bytes.
	MessageIn(typ string, bytes int)
	// MessageOut is called for every data frame written to a socket.
	MessageOut(typ string, bytes int)
	// Dropped is called when a frame could not be queued to a connection;
	// reason is "slow_consumer" or "closed".
	Dropped(reason string)
	// SlowConsumer is called when a connection is closed because its send
	// queue overflowed (close code 4002).
	SlowConsumer()
	// HeartbeatTimeout is called when a connection is closed because nothing
	// was received within the heartbeat timeout (close code 4003).
	HeartbeatTimeout()
	// RateLimited is called when a client message is refused by the
	// per-connection rate limit.
	RateLimited()
}

// BatchObserver is an Observer that takes the data frames a connection
// writes together (one batch) in one call per run of one type, instead of
// one MessageOut call per frame. The server uses MessagesOut when the
// Observer has it.
type BatchObserver interface {
	Observer
	// MessagesOut is called for frames data frames of type typ, bytes bytes
	// in all, written to a socket together.
	MessagesOut(typ string, frames, bytes int)
}

// nopObserver is the Observer used when Config.Observer is nil.
type nopObserver struct{}

func (nopObserver) Types(*shared.Registry)              {}
func (nopObserver) HandshakeDone(string, time.Duration) {}
func (nopObserver) ConnClosed(int)                      {}
func (nopObserver) MessageIn(string, int)               {}
func (nopObserver) MessageOut(string, int)              {}
func (nopObserver) MessagesOut(string, int, int)        {}
func (nopObserver) Dropped(string)                      {}
func (nopObserver) SlowConsumer()                       {}
func (nopObserver) HeartbeatTimeout()                   {}
func (nopObserver) RateLimited()                        {}

// written counts the frames of items, which reached the socket: once in
// Stats, and by runs of one message type for a BatchObserver (a fan-out
// batch is mostly one type) or frame by frame for another Observer.
func (c *Conn) written(items []*outFrame) {
	if len(items) == 0 {
		return
	}
	s := c.srv
	if bo, ok := s.obs.(BatchObserver); ok {
		var run batchRun
		n := run.count(items, bo)
		run.report(bo)
		s.stats.messagesOut.Add(uint64(n))
		return
	}
	n := 0
	forEachFrame(items, func(f *outFrame) {
		n++
		s.obs.MessageOut(f.typ, f.size)
	})
	s.stats.messagesOut.Add(uint64(n))
}

// batchRun is a run of consecutive frames of one type, for a BatchObserver.
type batchRun struct {
	typ           string
	frames, bytes int
}

// count adds items' frames to the run, reporting each finished run to bo,
// and returns how many frames there were; the last run is left to report.
func (r *batchRun) count(items []*outFrame, bo BatchObserver) int {
	n := 0
	for _, f := range items {
		if f.batch != nil {
			n += r.count(f.batch, bo)
			continue
		}
		n++
		if r.frames > 0 && r.typ != f.typ {
			r.report(bo)
		}
		r.typ = f.typ
		r.frames++
		r.bytes += f.size
	}
	return n
}

// report hands the run to bo and empties it.
func (r *batchRun) report(bo BatchObserver) {
	if r.frames > 0 {
		bo.MessagesOut(r.typ, r.frames, r.bytes)
	}
	*r = batchRun{}
}

// forEachFrame calls fn for each frame of items, batch items flattened.
func forEachFrame(items []*outFrame, fn func(*outFrame)) {
	for _, f := range items {
		if f.batch != nil {
			forEachFrame(f.batch, fn)
			continue
		}
		fn(f)
	}
}
