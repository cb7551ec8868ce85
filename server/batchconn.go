package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Write buffer sizes of a connection: the batch buffers are pooled (see
// writePools), so an idle connection holds none.
const (
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

// batchConn is the network connection under a Conn's *websocket.Conn. It
// makes the connection's writer the only goroutine that writes to the
// socket: once the handshake is done (attach), every frame gorilla writes,
// on any goroutine, is appended to a pooled buffer, and only flush, which
// the writer alone calls, writes to the socket: what is buffered, in one
// Write under one deadline.
//
// The frames the writer makes (data, pings, pongs, close frames) are
// buffered and flushed by it. The only frames gorilla writes on the reader
// goroutine are the close frames it sends itself when it refuses what it
// read (1002 for a protocol error, 1009 over the read limit): they wait in
// the buffer until the writer, woken by the close that follows, flushes it.
//
// This relies on how gorilla/websocket v1.5.3 writes (batchconn_test.go
// pins it): every frame through this net.Conn's Write (or net.Buffers,
// which falls back to Write on a type without writev), one frame at a time
// under its own write lock, so frames stay whole in the buffer whichever
// goroutine frames them; a SetWriteDeadline before each frame, which the
// buffer makes moot (flush sets the batch's own); and its handshake
// response written straight through Hijack's connection before Upgrade
// returns, before attach.
type batchConn struct {
	net.Conn
	pools *writePools
	slack time.Duration // flush keeps a deadline that is at most this much earlier than asked

	attached atomic.Bool // the handshake is done: writes are buffered

	mu  sync.Mutex
	buf *[]byte // the batch buffer, from the pool once something is written
	err error   // the first write error: the stream is broken

	deadline time.Time    // the socket's write deadline, as last set (writer only)
	cut      atomic.Int64 // a write deadline set by expire, in Unix ns; 0: none
}

// attach ends the handshake: from now on writes are buffered until flush.
func (b *batchConn) attach() {
	b.attached.Store(true)
}

// buffered reports whether anything waits to be flushed.
func (b *batchConn) buffered() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf != nil && len(*b.buf) > 0
}

// flush writes what is buffered to the socket in one Write, under deadline
// (or the earlier one set by expire). A deadline already set that is at
// most slack earlier is kept: setting one costs as much as a small write.
// Only the writer calls it, so the socket is written by one goroutine; the
// buffer is swapped out under mu, so a frame gorilla writes on the reader
// meanwhile never waits for the socket.
func (b *batchConn) flush(deadline time.Time) error {
	b.mu.Lock()
	buf, err := b.buf, b.err
	b.buf = nil
	b.mu.Unlock()
	if buf == nil {
		return err
	}
	defer b.pools.putBatch(buf)
	if err != nil {
		return err
	}
	if b.cut.Load() != 0 || b.deadline.IsZero() || deadline.Sub(b.deadline) > b.slack {
		err = b.setWriteDeadline(deadline)
	}
	if err == nil {
		_, err = b.Conn.Write(*buf)
	}
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return err
}

// expire moves the write deadline to t, earlier than the writer's own: a
// write blocked on a peer that does not read fails at t. It is safe to call
// from any goroutine, and does not wait for a write in progress.
func (b *batchConn) expire(t time.Time) {
	b.cut.Store(t.UnixNano())
	_ = b.Conn.SetWriteDeadline(t)
}

// setWriteDeadline sets the socket's write deadline to t, or to the earlier
// one set by expire.
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

// Write implements net.Conn: once attached it appends p to the batch
// buffer; during the handshake it writes to the socket.
func (b *batchConn) Write(p []byte) (int, error) {
	if !b.attached.Load() {
		return b.Conn.Write(p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.buf == nil {
		b.buf = b.pools.getBatch()
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// SetWriteDeadline implements net.Conn. gorilla sets a deadline before each
// frame it writes; once attached the frame is only buffered, and flush sets
// the batch's deadline instead.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if b.attached.Load() {
		return nil
	}
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
// Hijack wraps the connection in a batchConn, and hands gorilla the
// connection's own read buffer (see readBuffer).
type hijackWriter struct {
	http.ResponseWriter
	pools *writePools
	reads *readPool
	slack time.Duration // batchConn.slack
	bc    *batchConn    // set by Hijack
	rb    *readBuffer   // set by Hijack; nil when the client sent data too early
}

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	w.bc = &batchConn{Conn: nc, pools: w.pools, slack: w.slack}
	if brw.Reader.Buffered() > 0 {
		// Bytes after the handshake request, before its answer: gorilla
		// refuses the upgrade when it sees them in the reader.
		return w.bc, brw, nil
	}
	w.rb = newReadBuffer(w.bc, w.reads)
	return w.bc, bufio.NewReadWriter(w.rb.br, brw.Writer), nil
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
