package server

import "sync"

// sendQueue is a connection's outgoing queue and the protocol of its writer,
// the one goroutine that writes to the socket. Any goroutine may push data
// frames (at most limit of them unwritten), have a heartbeat ping sent,
// answer a ping with a pong, or signal the writer to look at the
// connection (a close); none of these blocks. The writer takes what is due,
// control frames ahead of data, and parks (returns) when it has had nothing
// to do.
//
// The queue starts the writer: when work arrives and none runs, the caller
// that brought it starts one (start, in a goroutine of its own), so at most
// one writer runs at a time, an idle connection has none, and nothing
// pushed is left without a writer to take it. A queue is created held (no
// writer starts until release: the connection is not registered yet) and
// ends for good with end (the writer closed the socket).
//
// It knows nothing of sockets or frames beyond holding them; its tests
// drive it with a writer of their own.
type sendQueue struct {
	limit int    // the most items unwritten (Config.SendQueue)
	start func() // runs a writer; called in a new goroutine

	mu        sync.Mutex
	data      []*outFrame // pushed, not yet taken by the writer
	unwritten int         // pushed and not yet done: queued, or in the writer's batch
	spare     []*outFrame // the writer's other buffer, handed back by done
	ping      bool        // a heartbeat ping is due
	pongs     [][]byte    // the payloads of the pongs due, at most maxPongs
	running   bool        // a writer runs: started, and neither parked nor ended
	kicked    bool        // something came for the running writer since it last tried to park (a signal)
	held      bool        // no writer starts until release
	ended     bool        // the writer ended for good: none starts again
}

// pushResult is what became of a pushed frame.
type pushResult int

const (
	pushed     pushResult = iota // queued for the writer
	pushFull                     // refused: limit items are unwritten
	pushClosed                   // refused: the writer has ended
)

// Batch limits of the writer: take hands it at most maxBatchFrames items at
// a time, and the writer flushes to the socket whenever maxBatchBytes are
// buffered, so that a long backlog goes out in bounded writes.
const (
	maxBatchFrames = 256
	maxBatchBytes  = 32 << 10
)

// maxSpare is the largest queue buffer kept for reuse once a batch is
// written: a burst's larger one is left to the garbage collector, so that an
// idle connection goes back to holding a small one.
const maxSpare = 64

// init readies a held queue of at most limit unwritten items, whose writer
// is start.
func (q *sendQueue) init(limit int, start func()) {
	q.limit, q.start = limit, start
	q.held = true
}

// push queues f for the writer, unless limit items are unwritten or the
// writer has ended, and wakes or starts the writer.
func (q *sendQueue) push(f *outFrame) pushResult {
	q.mu.Lock()
	switch {
	case q.ended:
		q.mu.Unlock()
		return pushClosed
	case q.unwritten >= q.limit:
		q.mu.Unlock()
		return pushFull
	}
	q.data = append(q.data, f)
	q.unwritten++
	q.notifyLocked() // unlocks
	return pushed
}

// sendPing has the writer send a heartbeat ping.
func (q *sendQueue) sendPing() {
	q.mu.Lock()
	q.ping = true
	q.notifyLocked()
}

// maxPongs bounds the pongs due: past it, the latest ping's pong replaces
// the last one due (RFC 6455 §5.5.3 lets an endpoint answer only the latest
// ping), so that a ping flood costs a few pongs, whatever the writer's
// backlog.
const maxPongs = 8

// sendPong has the writer answer a ping whose payload was data, ahead of
// the queued data.
func (q *sendQueue) sendPong(data []byte) {
	q.mu.Lock()
	if data == nil {
		data = []byte{}
	}
	if len(q.pongs) < maxPongs {
		q.pongs = append(q.pongs, data)
	} else {
		q.pongs[maxPongs-1] = data
	}
	q.notifyLocked()
}

// signal has the writer look at the connection (it is closing): it wakes
// the writer, or starts one.
func (q *sendQueue) signal() {
	q.mu.Lock()
	q.notifyLocked()
}

// release lets the writer start, and starts it.
func (q *sendQueue) release() {
	q.mu.Lock()
	q.held = false
	q.notifyLocked()
}

// notifyLocked tells the running writer that something came (it will not
// park before looking), or starts one when none runs and the queue is
// neither held nor ended. It is called with mu held, and unlocks it.
func (q *sendQueue) notifyLocked() {
	if q.running || q.held || q.ended {
		q.kicked = q.kicked || q.running
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	go q.start()
}

// controlFrames are the control frames due: pongs, a heartbeat ping.
type controlFrames struct {
	pongs [][]byte // the pongs' payloads, oldest first
	ping  bool
}

// any reports whether a control frame is due.
func (f controlFrames) any() bool { return f.ping || len(f.pongs) > 0 }

// control takes the control frames due, for the writer.
func (q *sendQueue) control() controlFrames {
	q.mu.Lock()
	defer q.mu.Unlock()
	f := controlFrames{pongs: q.pongs, ping: q.ping}
	q.ping, q.pongs = false, nil
	return f
}

// take hands the writer the queued items, oldest first, at most
// maxBatchFrames of them; more reports whether some are left. They count as
// unwritten until the writer calls done.
func (q *sendQueue) take() (batch []*outFrame, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.data) <= maxBatchFrames {
		batch, q.data = q.data, q.spare
		q.spare = nil
		return batch, false
	}
	batch = append(q.spare, q.data[:maxBatchFrames]...)
	q.spare = nil
	n := copy(q.data, q.data[maxBatchFrames:])
	clear(q.data[n:])
	q.data = q.data[:n]
	return batch, true
}

// done gives back the items of a batch from take, written or not (the
// writer is ending): they no longer count against the limit, and the
// batch's buffer becomes the writer's spare unless a burst grew it large.
func (q *sendQueue) done(batch []*outFrame) {
	n := len(batch)
	clear(batch)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.unwritten -= n
	if cap(batch) <= maxSpare && q.spare == nil {
		q.spare = batch[:0]
	}
}

// park ends the running writer once it has done what was due, unless
// something came meanwhile (due, or a signal since its last try); it
// reports whether the writer is to return. The next push or signal starts
// a new one. A writer that cannot park goes round again: it never waits,
// so a connection holds a writer goroutine (and its stack) only while it
// has something to write.
func (q *sendQueue) park() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	kicked := q.kicked
	q.kicked = false
	if kicked || len(q.data) > 0 || q.ping || len(q.pongs) > 0 {
		return false
	}
	q.running = false
	return true
}

// end records that the writer has ended for good: no writer starts again
// and pushes are refused. The frames still queued are dropped.
func (q *sendQueue) end() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running, q.ended = false, true
	q.unwritten -= len(q.data)
	clear(q.data)
	q.data, q.spare = nil, nil
}

// runs reports whether a writer runs.
func (q *sendQueue) runs() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running
}

// len returns how many items are unwritten: queued or being written.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.unwritten
}
