package server

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// closeGrace bounds how long a closing connection waits for the peer's
// answering close frame (or for a read-limit drain) before the socket is
// closed. Waiting lets the close frame arrive intact instead of being lost to
// a TCP reset.
const closeGrace = time.Second

// Batch limits of the writer: one wake-up writes at most maxBatchFrames
// queued items, and flushes to the socket whenever maxBatchBytes are
// buffered, so a long backlog goes out in bounded writes.
const (
	maxBatchFrames = 256
	maxBatchBytes  = 32 << 10
)

// writeLoop is the connection's writer goroutine: it owns every data write to
// the socket, sends the heartbeat pings, and performs the close. signal
// starts it when there is something to do and none runs; it returns after
// closing the socket, or when the connection has been idle (nothing written)
// for a whole heartbeat interval, so that an idle connection holds no writer
// and its stack.
//
// Each wake-up takes everything queued (up to maxBatchFrames items) and
// writes it as one batch: the frames are framed one by one by gorilla into
// the connection's batch buffer (see batchConn) and reach the socket in one
// write, under one write deadline, and are counted once. The writer sleeps
// on one channel, wake, which enqueue, startClose and the heartbeat timer
// signal.
func (c *Conn) writeLoop() {
	for {
		// A close request goes before whatever is queued: a slow consumer
		// must not be fed its backlog first.
		if c.isClosing() {
			c.finishClose()
			c.writerEnded()
			return
		}
		if c.pingDue.Swap(false) {
			deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
			if err := c.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
				c.writeFailed(err)
				c.writerEnded()
				return
			}
			c.heartbeat.Reset(c.srv.cfg.Heartbeat)
			idle := !c.wrote
			c.wrote = false
			if idle && c.parkWriter() {
				return
			}
		}
		wrote, err := c.writeQueued()
		if err != nil {
			c.writeFailed(err)
			c.writerEnded()
			return
		}
		c.wrote = c.wrote || wrote
		<-c.wake
	}
}

// signal has the writer look at the connection: it wakes the writer, unless
// a wake-up is pending already, or starts one when none runs.
func (c *Conn) signal() {
	c.qmu.Lock()
	start := c.claimWriter()
	c.qmu.Unlock()
	c.wakeWriter(start)
}

// claimWriter reports whether the caller is to start the writer, because
// none runs (and the connection is neither held nor done), and records that
// one does.
// Called with qmu held.
func (c *Conn) claimWriter() bool {
	if c.writerRuns || c.writerGone || c.held {
		return false
	}
	c.writerRuns = true
	return true
}

// wakeWriter starts the writer (start: claimWriter said so) or wakes it,
// unless a wake-up is pending already.
func (c *Conn) wakeWriter(start bool) {
	if start {
		go c.writeLoop()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// parkWriter ends the writer goroutine of an idle connection, unless
// something arrived meanwhile; it reports whether the writer is to return.
// The next signal starts a new one.
func (c *Conn) parkWriter() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queued) > 0 || c.pingDue.Load() || c.isClosing() {
		return false
	}
	c.writerRuns = false
	return true
}

// writerEnded records that the writer closed the socket: no writer starts
// again, the heartbeat stops, and writerDone is closed.
func (c *Conn) writerEnded() {
	c.qmu.Lock()
	c.writerRuns, c.writerGone = false, true
	c.qmu.Unlock()
	c.heartbeat.Stop()
	close(c.writerDone)
}

// startHeartbeat arms the heartbeat timer: every Heartbeat without a ping
// sent, it has the writer send one. The timer's function reaches c weakly
// (Conn.weakly, as the token-expiry timer does): a stopped timer must not
// keep a closed connection reachable.
func (c *Conn) startHeartbeat() {
	// Created idle and armed once assigned: the writer the timer starts
	// resets c.heartbeat, and a heartbeat short enough (or a stall long
	// enough) had the timer fire before AfterFunc returned, so the writer
	// reset a nil timer.
	c.heartbeat = time.AfterFunc(math.MaxInt64, c.weakly(func(c *Conn) {
		c.pingDue.Store(true)
		c.signal()
	}))
	c.heartbeat.Reset(c.srv.cfg.Heartbeat)
}

// writeQueued writes what is queued, in batches of at most maxBatchFrames
// items, until the queue is empty, and reports whether it wrote anything. It
// stops early when the connection starts closing without asking for a flush.
func (c *Conn) writeQueued() (wrote bool, err error) {
	for {
		batch, more := c.takeQueued()
		if len(batch) == 0 {
			return wrote, nil
		}
		wrote = true
		err := c.writeBatch(batch)
		c.recycle(batch)
		if err != nil {
			return wrote, err
		}
		if !more {
			return wrote, nil
		}
		if c.isClosing() {
			if req, _ := c.closeState(); !req.flush {
				return wrote, nil
			}
		}
	}
}

// writeBatch writes frames in order: framed into the batch buffer, flushed
// whenever it holds maxBatchBytes and at the end, all under the one write
// deadline taken when the batch starts. The frames count as unwritten in the
// queue's bound until it returns.
func (c *Conn) writeBatch(frames []*outFrame) error {
	defer func() {
		c.qmu.Lock()
		c.unwritten -= len(frames)
		c.qmu.Unlock()
	}()
	deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
	c.bc.begin()
	end := len(frames) // frames[end:] are skipped
	stopOnClose := true
	flushed := 0  // frames[:flushed] are on the socket
	buffered := 0 // about the bytes in the batch buffer
	var err error
	for i, f := range frames {
		if i > 0 && stopOnClose && c.isClosing() {
			if req, _ := c.closeState(); !req.flush {
				end = i
				break // a slow consumer gets its 4002 now, not its backlog
			}
			stopOnClose = false
		}
		if err = c.frame(f); err != nil {
			break
		}
		if buffered += wireSize(f); buffered >= maxBatchBytes && i < len(frames)-1 {
			if err = c.bc.flush(deadline); err != nil {
				break
			}
			c.written(frames[flushed : i+1])
			flushed, buffered = i+1, 0
			c.bc.begin()
		}
	}
	// Flush even after a failed frame: the buffer may hold a close frame the
	// reader wrote meanwhile (after which gorilla refuses data frames).
	ferr := c.bc.flush(deadline)
	if err == nil {
		err = ferr
	}
	if err == nil {
		c.written(frames[flushed:end])
	}
	return err
}

// wireSize is about how many bytes f takes on the wire: its frames' payloads
// and headers.
func wireSize(f *outFrame) int {
	if f.batch == nil {
		return f.size + 4
	}
	n := 0
	for _, sub := range f.batch {
		n += wireSize(sub)
	}
	return n
}

// frame hands one queued item (or each frame of a batch item) to gorilla,
// which frames it into the batch buffer.
func (c *Conn) frame(f *outFrame) error {
	for _, sub := range f.batch {
		if err := c.frame(sub); err != nil {
			return err
		}
	}
	if f.batch != nil {
		return nil
	}
	if f.prepared != nil {
		return c.ws.WritePreparedMessage(f.prepared)
	}
	return c.ws.WriteMessage(websocket.TextMessage, f.raw)
}

// written counts the frames of items, which reached the socket: once in Stats, and by runs of one
// message type for a BatchObserver (a fan-out batch is mostly one type) or
// frame by frame for another Observer.
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

// writeFailed ends the connection after a failed write.
func (c *Conn) writeFailed(err error) {
	if errors.Is(err, websocket.ErrCloseSent) {
		// The reader answered the peer's close frame (or refused an
		// oversized message): it records the close code and stops.
		c.awaitReader()
	} else if c.startClose(closeRequest{code: websocket.CloseAbnormalClosure, reason: "write failed"}) {
		c.srv.onError(c, fmt.Errorf("write to %s: %w", c.id, err))
	}
	_ = c.ws.Close()
}

// finishClose performs the first close request: flush the queue if asked,
// send the close frame if asked, give the peer a moment to answer, close the
// socket.
func (c *Conn) finishClose() {
	req, _ := c.closeState()
	ok := true
	if req.flush {
		_, err := c.writeQueued()
		ok = err == nil
	}
	if ok && req.send {
		wait := min(c.srv.cfg.WriteTimeout, closeGrace)
		msg := websocket.FormatCloseMessage(req.code, req.reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)) // best effort
	}
	c.awaitReader()
	_ = c.ws.Close()
}

// awaitReader waits, at most closeGrace, for the reader to stop.
func (c *Conn) awaitReader() {
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
}

// closeCodeText names the close codes in logs.
func closeCodeText(code int) string {
	switch code {
	case shared.CloseNormal:
		return "normal"
	case shared.CloseGoingAway:
		return "going away"
	case websocket.CloseNoStatusReceived:
		return "no status"
	case websocket.CloseAbnormalClosure:
		return "connection lost"
	case shared.CloseProtocolError:
		return "protocol error"
	case shared.CloseInvalidPayload:
		return "invalid payload"
	case shared.ClosePolicyViolation:
		return "policy violation"
	case shared.CloseTooBig:
		return "message too big"
	case shared.CloseKicked:
		return "kicked"
	case shared.CloseRejected:
		return "rejected"
	case shared.CloseSlowConsumer:
		return "slow consumer"
	case shared.CloseHeartbeat:
		return "heartbeat timeout"
	}
	return "other"
}

// Buffer sizes of a connection (see writePools): the read buffer only has to
// hold a frame header and a control frame, since clients send small
// messages and larger ones are read past it; the write buffers are pooled,
// so an idle connection holds none.
const (
	readBufferSize  = 1024
	batchBufferSize = 4 << 10
	maxPooledBuffer = 64 << 10 // larger batch buffers are not kept
)

// writePools are the server's pooled write buffers: gorilla's framing
// buffers (Upgrader.WriteBufferPool) and the writers' batch buffers. They
// are only held while a connection writes.
type writePools struct {
	frame sync.Pool // gorilla's
	batch sync.Pool // *[]byte for batchConn
}

// getBatch returns an empty batch buffer.
func (p *writePools) getBatch() *[]byte {
	if b, ok := p.batch.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, batchBufferSize)
	return &b
}

// putBatch returns a batch buffer to the pool, unless a burst grew it large.
func (p *writePools) putBatch(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	p.batch.Put(b)
}

// batchConn is the network connection under a Conn's *websocket.Conn. While
// the writer is in a batch (begin … flush), every write gorilla makes (the
// writer's data frames, and a pong or close frame the reader goroutine
// writes meanwhile) is appended to a pooled buffer, and flush writes the
// whole buffer with one Write under one deadline. Outside a batch, writes go
// straight to the socket. gorilla writes each frame with one or two Writes
// while holding its own write lock, so frames stay whole whichever goroutine
// writes them; flush holds mu while it writes, so a write from another
// goroutine waits for it, as it waits for gorilla's lock during a direct
// write. The first failed write fails every later one: the stream is broken.
type batchConn struct {
	net.Conn
	pools *writePools

	batching atomic.Bool // set by begin, cleared by flush (under mu)

	mu  sync.Mutex
	buf *[]byte // the batch buffer, from the pool once something is written
	err error   // the first write error

	deadline time.Time     // the socket's write deadline, as last set under mu
	slack    time.Duration // flush keeps a deadline that is at most this much earlier than asked

	cut atomic.Int64 // a write deadline set by expire, in Unix ns; 0: none
}

// begin starts a batch: writes are buffered until flush.
func (b *batchConn) begin() {
	b.batching.Store(true)
}

// flush ends the batch: it writes what was buffered in one Write, under
// deadline (or the earlier one set by expire). A deadline already set that
// is at most slack earlier is kept: setting one costs as much as a small
// write.
func (b *batchConn) flush(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching.Store(false)
	buf := b.buf
	if buf == nil {
		return b.err
	}
	b.buf = nil
	defer b.pools.putBatch(buf)
	if b.err != nil {
		return b.err
	}
	if b.cut.Load() != 0 || b.deadline.IsZero() || deadline.Sub(b.deadline) > b.slack {
		if err := b.setWriteDeadline(deadline); err != nil {
			b.err = err
			return err
		}
	}
	if _, err := b.Conn.Write(*buf); err != nil {
		b.err = err
		return err
	}
	return nil
}

// expire moves the write deadline to t, earlier than the writer's own: a
// write blocked on a peer that does not read fails at t. It is safe to call
// from any goroutine, and does not wait for a write in progress.
func (b *batchConn) expire(t time.Time) {
	b.cut.Store(t.UnixNano())
	_ = b.Conn.SetWriteDeadline(t)
}

// setWriteDeadline sets the socket's write deadline to t, or to the earlier
// one set by expire. Called with mu held.
func (b *batchConn) setWriteDeadline(t time.Time) error {
	cut := b.cut.Load()
	bounded := func(t time.Time) time.Time {
		if cut != 0 && (t.IsZero() || t.UnixNano() > cut) {
			return time.Unix(0, cut)
		}
		return t
	}
	b.deadline = bounded(t)
	if err := b.Conn.SetWriteDeadline(b.deadline); err != nil {
		return err
	}
	// An expire between the Load and the Set would be undone: apply it.
	if now := b.cut.Load(); now != cut {
		cut = now
		b.deadline = bounded(t)
		return b.Conn.SetWriteDeadline(b.deadline)
	}
	return nil
}

// Write implements net.Conn: it buffers p during a batch and writes it to
// the socket otherwise.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.batching.Load() {
		if b.buf == nil {
			b.buf = b.pools.getBatch()
		}
		*b.buf = append(*b.buf, p...)
		return len(p), nil
	}
	n, err := b.Conn.Write(p)
	if err != nil {
		b.err = err
	}
	return n, err
}

// SetWriteDeadline implements net.Conn. gorilla sets a deadline before each
// frame it writes; during a batch the frame is only buffered, and flush sets
// the batch's deadline instead.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if b.batching.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.setWriteDeadline(t)
}

// SetDeadline implements net.Conn, keeping the write side's rules.
func (b *batchConn) SetDeadline(t time.Time) error {
	if err := b.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return b.SetWriteDeadline(t)
}

// hijackWriter is the http.ResponseWriter handed to gorilla's Upgrade: its
// Hijack wraps the connection in a batchConn.
type hijackWriter struct {
	http.ResponseWriter
	pools *writePools
	slack time.Duration // batchConn.slack
	bc    *batchConn    // set by Hijack
}

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	w.bc = &batchConn{Conn: nc, pools: w.pools, slack: w.slack}
	return w.bc, brw, nil
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
