package server

import (
	"bufio"
	"net"
	"sync"
)

// readBufferSize is the size of the pooled read buffers: it only has to
// hold a frame header and a control frame, since clients send small
// messages and larger ones are read past it (gorilla requires more than 256
// bytes of the reader it is given).
const readBufferSize = 1024

// readPool holds the read buffers of the connections that are reading a
// frame: *bufio.Reader values, each with its own buffer.
type readPool struct{ p sync.Pool }

func (p *readPool) get() *bufio.Reader {
	if br, ok := p.p.Get().(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(nil, readBufferSize)
}

func (p *readPool) put(br *bufio.Reader) {
	br.Reset(nil) // keep nothing of the connection
	p.p.Put(br)
}

// readBuffer is a connection's read buffer, held only while a frame is
// arriving. gorilla reads through br, the reader handed to it at the
// upgrade (Upgrader.ReadBufferSize is 0, so gorilla v1.5.3 reads through
// the hijacked reader when it is larger than 256 bytes); at a message
// boundary with nothing buffered, release gives br's buffer back to the
// pool, and acquire takes one again when the next bytes arrive. Between the
// two nothing reads through br. Used by the reader only.
type readBuffer struct {
	br   *bufio.Reader // gorilla's: its contents are swapped, never the pointer
	held *bufio.Reader // the pooled reader whose buffer br is using; nil while released
	pool *readPool
	conn net.Conn

	first    [1]byte // read by waitFirst, before the buffer is taken
	hasFirst bool
}

// newReadBuffer returns conn's read buffer, held.
func newReadBuffer(conn net.Conn, pool *readPool) *readBuffer {
	rb := &readBuffer{br: new(bufio.Reader), pool: pool, conn: conn}
	rb.acquire()
	return rb
}

// acquire gives br a pooled buffer, unless it has one.
func (rb *readBuffer) acquire() {
	if rb.held != nil {
		return
	}
	rb.held = rb.pool.get()
	rb.held.Reset(rb)
	*rb.br = *rb.held // shares held's buffer until release
}

// release gives br's buffer back to the pool, unless bytes are buffered;
// it reports whether it did (or had no buffer).
func (rb *readBuffer) release() bool {
	if rb.held == nil {
		return true
	}
	if rb.br.Buffered() > 0 {
		return false
	}
	*rb.br = bufio.Reader{}
	rb.pool.put(rb.held)
	rb.held = nil
	return true
}

// waitFirst blocks until the next byte arrives, reading it without a
// buffer: an idle connection's reader waits here holding none.
func (rb *readBuffer) waitFirst() error {
	for {
		n, err := rb.conn.Read(rb.first[:])
		if n == 1 {
			rb.hasFirst = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Read is what br reads from: the byte waitFirst read, then the socket.
func (rb *readBuffer) Read(p []byte) (int, error) {
	if rb.hasFirst && len(p) > 0 {
		p[0] = rb.first[0]
		rb.hasFirst = false
		return 1, nil
	}
	return rb.conn.Read(p)
}
