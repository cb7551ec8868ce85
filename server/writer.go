package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// closeGrace bounds how long a closing connection waits for the peer's
// answering close frame (or for a read-limit drain) before the socket is
// closed. Waiting lets the close frame arrive intact instead of being lost to
// a TCP reset.
const closeGrace = time.Second

// writeLoop is the connection's writer goroutine: it owns every data write to
// the socket, sends the heartbeat pings, and performs the close. It returns
// after closing the socket.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	heartbeat := time.NewTicker(c.srv.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		// A close request goes before whatever is queued: a slow consumer
		// must not be fed its backlog first.
		select {
		case <-c.closing:
			c.finishClose()
			return
		default:
		}
		select {
		case <-c.closing:
			c.finishClose()
			return
		case f := <-c.queue:
			if err := c.write(f); err != nil {
				c.writeFailed(err)
				return
			}
		case <-heartbeat.C:
			deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
			if err := c.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
				c.writeFailed(err)
				return
			}
		}
	}
}

// write writes one queued frame, or each frame of a batch, within the write
// timeout each.
func (c *Conn) write(f *outFrame) error {
	for _, sub := range f.batch {
		if err := c.write(sub); err != nil {
			return err
		}
	}
	if f.batch != nil {
		return nil
	}
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	var err error
	if f.prepared != nil {
		err = c.ws.WritePreparedMessage(f.prepared)
	} else {
		err = c.ws.WriteMessage(websocket.TextMessage, f.raw)
	}
	if err == nil {
		c.srv.stats.messagesOut.Add(1)
		c.srv.obs.MessageOut(f.typ, f.size)
	}
	return err
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
		ok = c.flush()
	}
	if ok && req.send {
		wait := min(c.srv.cfg.WriteTimeout, closeGrace)
		msg := websocket.FormatCloseMessage(req.code, req.reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)) // best effort
	}
	c.awaitReader()
	_ = c.ws.Close()
}

// flush writes what is queued; no frame can be added once closing started.
// It reports whether the socket is still writable.
func (c *Conn) flush() bool {
	for {
		select {
		case f := <-c.queue:
			if err := c.write(f); err != nil {
				return false
			}
		default:
			return true
		}
	}
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
