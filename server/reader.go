package server

import (
	"errors"
	"io"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// How a connection is read. gorilla frames and unmasks; the reader reads
// one message at a time and hands it to its handler, and never writes to the
// socket (pongs and the answer to a close frame are the writer's; see
// batchConn). Between messages an idle connection holds no read buffer (see
// readBuffer), and on Linux, when its socket is a plain one the node's
// poller can watch, no goroutine either: a reader run (readRun) reads while
// bytes arrive and parks at a message boundary with nothing buffered, and
// the poller starts the next run when the socket has bytes again. Anywhere
// else the connection has a reader goroutine (readLoop), which waits for
// the next message's first byte without a buffer. Either way handlers of one
// connection run one at a time, in the order the messages arrived, and the
// reader records why reading stopped (readFailed) before it ends
// (readerEnded).

// readerState is where a connection's reader is. Guarded by Conn.readMu.
type readerState uint8

const (
	readerRunning readerState = iota // a goroutine reads (readLoop, or a readRun)
	readerParked                     // no goroutine: the poller starts a run when bytes arrive
	readerEnded                      // reading is over for good
)

// startReading sets gorilla's handlers, runs OnConnect and reads: on a
// goroutine of its own until the connection ends, or (watched by the
// poller) parked from the start, returning at once.
func (c *Conn) startReading() {
	s := c.srv
	c.ws.SetReadLimit(s.cfg.wireLimit())
	c.ws.SetPongHandler(func(string) error {
		c.alive()
		s.onPong(c)
		return nil
	})
	c.ws.SetPingHandler(func(data string) error {
		c.alive()
		if !c.allowPing() {
			return nil // a ping flood gets no pongs
		}
		s.onPing(c)
		c.q.sendPong([]byte(data)) // the writer answers, ahead of queued data
		return nil
	})
	c.ws.SetCloseHandler(c.onPeerClose)
	if s.cfg.OnConnect != nil && !c.isClosing() {
		offReader(func() {
			if err := s.cfg.OnConnect(c.Context(), ConnectEvent{Conn: c}); err != nil {
				c.startClose(closeRequest{code: shared.CloseRejected, reason: err.Error(), send: true, flush: true})
			}
		})
	}
	c.alive()
	if c.watch() {
		return
	}
	c.readLoop()
}

// readLoop is the connection's reader goroutine, when the poller does not
// watch it: at each message boundary with nothing buffered it gives its
// read buffer back and waits for the next byte without one.
func (c *Conn) readLoop() {
	for {
		c.alive()
		if c.rb.release() {
			if err := c.rb.waitFirst(); err != nil {
				c.readFailed(err)
				c.readerEnded()
				return
			}
			c.rb.acquire()
		}
		if !c.readOne() {
			return
		}
	}
}

// readRun is one reader run of a watched connection, started by the poller
// when the socket has bytes (or an end of stream): it reads until a message
// boundary with nothing buffered and parks, or until reading ends.
func (c *Conn) readRun() {
	woke := true // the poller saw something in the socket
	for {
		c.alive()
		if !woke && !c.midMessage && c.rb.br.Buffered() == 0 && c.park() {
			return
		}
		woke = false
		c.rb.acquire()
		if !c.midMessage {
			handled, err := c.controlFrame()
			if err != nil {
				c.readFailed(err)
				c.readerEnded()
				return
			}
			if handled {
				continue
			}
		}
		if !c.readOne() {
			return
		}
	}
}

// readOne reads the next message and has it handled; false when reading has
// ended.
func (c *Conn) readOne() bool {
	typ, data, err := c.readMessage()
	if errors.Is(err, errTooBig) {
		// Over the limit once decompressed. gorilla has not noticed (it
		// counts wire bytes), so the close is ours to send; the rest of
		// the message is skipped by the next read.
		c.midMessage = true
		c.startClose(closeRequest{code: shared.CloseTooBig, reason: "message too big", send: true})
		return true
	}
	if err != nil {
		c.readFailed(err)
		c.readerEnded()
		return false
	}
	if c.isClosing() {
		return true // wait for the peer's close frame; ignore what it still sends
	}
	s := c.srv
	s.stats.messagesIn.Add(1)
	if c.polled.Load() {
		s.dispatchFrame(c, typ, data) // a run's stack ends with it
	} else {
		offReader(func() { s.dispatchFrame(c, typ, data) })
	}
	return true
}

// controlFrame handles a ping or pong frame at the head of the read buffer
// itself, when it is a clean one (final, masked, no reserved bits, at most
// 125 bytes), and reports whether it did; anything else (a data or close
// frame, a frame gorilla must refuse) is left to gorilla. Called at a
// message boundary only. gorilla would handle the frame in NextReader and
// then wait there for the next data frame: a reader run would never park
// on a connection that answers the heartbeat's pings.
func (c *Conn) controlFrame() (bool, error) {
	br := c.rb.br
	h, err := br.Peek(2)
	if err != nil {
		return false, err
	}
	op := int(h[0] & 0x0f)
	if h[0]&0xf0 != 0x80 || (op != websocket.PingMessage && op != websocket.PongMessage) || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		return false, nil
	}
	n := int(h[1] & 0x7f)
	f, err := br.Peek(6 + n) // a frame arriving in pieces: wait for the rest
	if err != nil {
		return false, err
	}
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = f[6+i] ^ f[2+i%4]
	}
	_, _ = br.Discard(6 + n)
	if op == websocket.PingMessage {
		return true, c.ws.PingHandler()(string(payload))
	}
	return true, c.ws.PongHandler()(string(payload))
}

// watch has the node's poller watch the connection's socket, parked, when
// it can; false: the connection is to have a reader goroutine.
func (c *Conn) watch() bool {
	fd, ok := socketFD(c.bc.Conn)
	if !ok || !c.rb.release() {
		return false
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.sockClosed {
		return false
	}
	c.rstate = readerParked
	token, err := c.srv.poll.watch(c, fd)
	if err != nil {
		c.rstate = readerRunning
		c.srv.log.Debug("connection not polled: it has a reader goroutine", "conn", c.id, "err", err)
		return false
	}
	c.pollToken, c.pollFD = token, int32(fd)
	c.polled.Store(true)
	return true
}

// park ends a reader run at a message boundary with nothing buffered: the
// read buffer goes back to the pool and the poller reports the socket's
// next bytes. It reports whether the run is to return; when the socket is
// being closed or cannot be armed, the run goes on reading (and blocks
// until the bytes come, or the socket fails).
func (c *Conn) park() bool {
	c.rb.release()
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.sockClosed || c.pollToken == 0 {
		return false
	}
	c.rstate = readerParked
	if err := c.srv.poll.arm(c.pollToken, int(c.pollFD)); err != nil {
		c.rstate = readerRunning
		return false
	}
	return true
}

// isParked reports whether the reader is parked.
func (c *Conn) isParked() bool {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.rstate == readerParked
}

// readable is the poller's news that the socket has bytes: a parked
// connection gets a reader run.
func (c *Conn) readable() {
	c.readMu.Lock()
	if c.rstate != readerParked {
		c.readMu.Unlock()
		return
	}
	c.rstate = readerRunning
	c.readMu.Unlock()
	go c.readRun()
}

// readerEnded records that reading is over: readerDone is closed, and the
// connection finishes once its writer has ended too.
// Called by the reader, or by closeSocket for a parked one.
func (c *Conn) readerEnded() {
	close(c.readerDone)
	c.ended()
}

// closeSocket closes the socket, once: the poller forgets it first, and a
// parked reader ends here, since no byte will start another run.
func (c *Conn) closeSocket() {
	c.readMu.Lock()
	if c.sockClosed {
		c.readMu.Unlock()
		return
	}
	c.sockClosed = true
	parked := c.rstate == readerParked
	if parked {
		c.rstate = readerEnded
	}
	if c.pollToken != 0 {
		c.srv.poll.unwatch(c.pollToken, int(c.pollFD))
		c.pollToken = 0
	}
	_ = c.ws.Close()
	c.readMu.Unlock()
	if parked {
		c.readerEnded()
	}
}

// offReader runs fn, a hook or a message's handling, on a goroutine of its
// own and waits for it: the stack fn grows is that goroutine's, freed when
// it returns, not the reader's, which an idle connection keeps while it
// waits for its next frame (Go seldom shrinks a stack). The reader still
// reads nothing while fn runs, so handlers of one connection run one at a
// time, in order.
func offReader(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// errTooBig means a message is larger than Config.ReadLimit once
// decompressed.
var errTooBig = errors.New("message too big")

// readMessage reads the next data message, at most Config.ReadLimit bytes of
// it: gorilla's read limit counts the bytes on the wire, which a compressed
// message (a decompression bomb) can keep far below its real size.
func (c *Conn) readMessage() (int, []byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	limit := c.srv.cfg.ReadLimit
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > limit {
		return 0, nil, errTooBig
	}
	return typ, data, nil
}

// alive pushes the heartbeat deadline: something was received (or a handler
// just finished, so no time passed waiting for the client). A reader
// blocked in a read times out at the deadline; the node's timers close a
// parked connection whose lastRead is as old.
func (c *Conn) alive() {
	now := time.Now()
	c.lastRead.Store(now.UnixNano())
	_ = c.ws.SetReadDeadline(now.Add(c.srv.cfg.HeartbeatTimeout))
}
