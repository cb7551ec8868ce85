package server

import (
	"compress/flate"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// How a connection closes. Any goroutine may ask (startClose): the first
// request wins, cancels the connection's context and wakes the writer,
// which performs it (finishClose): it writes the queued frames if asked,
// then the close frame if asked, flushes whatever gorilla buffered (a
// close frame it sent itself on the reader), waits a moment for the reader
// to stop and closes the socket. The reader records why it stopped
// (readFailed) as a close request of its own, which loses to an earlier one.

// closeGrace bounds how long a closing connection waits for the peer's
// answering close frame (or for a read-limit drain) before the socket is
// closed. Waiting lets the close frame arrive intact instead of being lost to
// a TCP reset.
const closeGrace = time.Second

// closeRequest is how a connection is to be closed. The first request wins.
type closeRequest struct {
	code   int
	reason string
	send   bool // send a close frame (false when gorilla already did, or the socket is broken)
	flush  bool // write the queued frames first
	answer bool // the close frame answers the peer's: its code, no reason (as gorilla's default handler)
}

// frame returns the close frame's payload.
func (r closeRequest) frame() []byte {
	if r.answer {
		return websocket.FormatCloseMessage(r.code, "")
	}
	return websocket.FormatCloseMessage(r.code, r.reason)
}

// startClose records how the connection closes and wakes the writer, which
// performs it. Only the first request counts; it reports whether this one did.
func (c *Conn) startClose(req closeRequest) bool {
	c.closeMu.Lock()
	if c.closed != nil {
		c.closeMu.Unlock()
		return false
	}
	req.reason = closeReason(req.reason)
	c.closed = &req
	close(c.closing) // the connection's context is done
	afters := c.afters
	c.afters = nil
	c.closeMu.Unlock()
	c.q.signal()
	for _, a := range afters {
		go a.f()
	}
	return true
}

// closeState returns the first close request, or false while open.
func (c *Conn) closeState() (closeRequest, bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed == nil {
		return closeRequest{}, false
	}
	return *c.closed, true
}

// isClosing reports whether the connection has started closing.
func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// onPeerClose is gorilla's close handler: the peer sent a close frame. The
// writer answers it, with the peer's code, ahead of anything queued (RFC
// 6455 §5.5.1); the reader then gets gorilla's *websocket.CloseError and
// stops.
func (c *Conn) onPeerClose(code int, text string) error {
	c.startClose(closeRequest{code: code, reason: text, send: true, answer: true})
	return nil
}

// finishClose performs the first close request, on the writer: flush the
// queue if asked, send the close frame if asked, give the peer a moment to
// answer, close the socket.
func (c *Conn) finishClose() {
	req, _ := c.closeState()
	ok := true
	if req.flush {
		ok = c.writeQueued() == nil
	}
	deadline := time.Now().Add(min(c.srv.cfg.WriteTimeout, closeGrace))
	if ok && req.send {
		// ErrCloseSent when gorilla sent its own close frame meanwhile.
		_ = c.ws.WriteControl(websocket.CloseMessage, req.frame(), deadline)
	}
	// Best effort: what is buffered, the close frame (ours, or the one
	// gorilla wrote on the reader) included.
	_ = c.bc.flush(deadline)
	c.awaitReader()
	c.closeSocket()
}

// writeFailed ends the connection after a failed write.
func (c *Conn) writeFailed(err error) {
	if errors.Is(err, websocket.ErrCloseSent) {
		// gorilla refused an oversized or broken message on the reader
		// and wrote its close frame, into the batch buffer: send it; the
		// reader records the close code and stops.
		_ = c.bc.flush(time.Now().Add(min(c.srv.cfg.WriteTimeout, closeGrace)))
		c.awaitReader()
	} else if c.startClose(closeRequest{code: websocket.CloseAbnormalClosure, reason: "write failed"}) {
		c.srv.onError(c, fmt.Errorf("write to %s: %w", c.id, err))
	}
	c.closeSocket()
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

// readFailed records why reading stopped.
func (c *Conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	var fe flate.CorruptInputError
	switch {
	case errors.As(err, &ce):
		// The peer closed: onPeerClose has had the writer answer.
		c.startClose(closeRequest{code: ce.Code, reason: ce.Text, send: true, answer: true})
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has written close 1009 (into the batch buffer, which
		// the writer flushes as it closes). Drain what the client still sends,
		// so that closing the socket does not reset the connection before the
		// client has read that close frame.
		c.startClose(closeRequest{code: shared.CloseTooBig, reason: "message too big"})
		c.drain()
	case errors.As(err, &ne) && ne.Timeout():
		if c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "heartbeat timeout", send: true}) {
			c.srv.obs.HeartbeatTimeout()
		}
	case errors.As(err, &fe):
		// A compressed message that does not inflate (RFC 7692 §6.2: fail
		// the connection): its payload data is invalid, like bad UTF-8.
		c.startClose(closeRequest{code: shared.CloseInvalidPayload, reason: "invalid compressed data", send: true})
		c.drain()
	case isProtocolError(err):
		// gorilla has written close 1002 (RFC 6455 §7.1.7: fail the
		// connection), as for the read limit. Drain likewise.
		c.startClose(closeRequest{code: shared.CloseProtocolError, reason: "protocol error"})
		c.drain()
	default:
		c.startClose(closeRequest{code: websocket.CloseAbnormalClosure, reason: "connection lost"})
	}
}

// isProtocolError reports whether err is gorilla's report of a frame that
// breaks RFC 6455 (reserved bits or opcodes, bad control frames, unmasked
// frames, bad close codes or reasons...), after which it has sent close
// 1002. gorilla gives those no type of their own, only the "websocket: "
// prefix of its own errors; the ones it does type (close frames, the read
// limit) and network errors are told apart before this is asked.
func isProtocolError(err error) bool {
	return strings.HasPrefix(err.Error(), "websocket: ")
}

// drainIdle is how long the peer may stay silent before drain gives up.
const drainIdle = 100 * time.Millisecond

// drain discards what the peer still sends (the rest of an oversized
// message, its answering close frame) until it is silent for drainIdle, at
// most closeGrace: closing a socket with unread data would reset the
// connection, and a reset can make the client lose the close frame.
func (c *Conn) drain() {
	nc := c.ws.NetConn()
	end := time.Now().Add(closeGrace)
	buf := make([]byte, 32<<10)
	for time.Now().Before(end) {
		deadline := time.Now().Add(drainIdle)
		if deadline.After(end) {
			deadline = end
		}
		if err := nc.SetReadDeadline(deadline); err != nil {
			return
		}
		if _, err := nc.Read(buf); err != nil {
			return
		}
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
