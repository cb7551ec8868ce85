package server

import (
	"time"

	"github.com/gorilla/websocket"
)

// writeLoop is the connection's writer goroutine, the only one that writes
// to its socket (see batchConn): data frames, heartbeat pings, pongs and the
// close. The send queue starts it when there is something to do and none
// runs; it returns after closing the socket, or as soon as it has written
// everything due and nothing more came meanwhile, so that a connection holds
// a writer and its stack only while it writes (the next message, ping or
// pong starts another).
//
// Each round writes the control frames due and then everything queued,
// maxBatchFrames items at a time, as one batch: gorilla frames them one by
// one into the batch buffer, and they reach the socket in one write, under
// one write deadline, and are counted once. What is queued while a batch is
// written goes out in the next round's batch.
func (c *Conn) writeLoop() {
	for {
		// A close request goes before whatever is queued: a slow consumer
		// must not be fed its backlog first.
		if c.isClosing() {
			c.finishClose()
			c.writerEnded()
			return
		}
		if err := c.writeQueued(); err != nil {
			c.writeFailed(err)
			c.writerEnded()
			return
		}
		if c.q.park() {
			return
		}
	}
}

// writerEnded records that the writer closed the socket: no writer starts
// again, and the connection finishes once its reader has ended too.
func (c *Conn) writerEnded() {
	c.q.end()
	c.ended()
}

// writeQueued writes the control frames due and what is queued, in batches
// of at most maxBatchFrames items, until nothing is due. It stops early
// when the connection starts closing without asking for a flush.
func (c *Conn) writeQueued() error {
	for {
		ctl := c.q.control()
		batch, more := c.q.take()
		if !ctl.any() && len(batch) == 0 {
			return nil
		}
		err := c.writeBatch(ctl, batch)
		c.q.done(batch)
		if err != nil || !more {
			return err
		}
		if c.isClosing() {
			if req, _ := c.closeState(); !req.flush {
				return nil
			}
		}
	}
}

// writeBatch writes the control frames ctl and then frames, in order:
// framed into the batch buffer, flushed whenever it holds maxBatchBytes and
// at the end, all under the one write deadline taken when the batch starts.
func (c *Conn) writeBatch(ctl controlFrames, frames []*outFrame) error {
	deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
	var err error
	for _, data := range ctl.pongs {
		if err = c.ws.WriteControl(websocket.PongMessage, data, deadline); err != nil {
			break
		}
	}
	if err == nil && ctl.ping {
		err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	}
	end := len(frames) // frames[end:] are skipped
	stopOnClose := true
	flushed := 0  // frames[:flushed] are on the socket
	buffered := 0 // about the bytes in the batch buffer
	for i := 0; err == nil && i < len(frames); i++ {
		f := frames[i]
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
		}
	}
	// Flush even after a failed frame: the buffer may hold a close frame
	// gorilla wrote on the reader meanwhile (after which it refuses data
	// frames).
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
