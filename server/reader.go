package server

import (
	"compress/flate"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// readLoop is the connection's reader goroutine: it reads frames, keeps the
// heartbeat deadline, and dispatches messages (handlers run here, in order).
// It returns when the socket fails or closes, having recorded why.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
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
		// Answer like gorilla's default handler does.
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.cfg.WriteTimeout))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	if s.cfg.OnConnect != nil && !c.isClosing() {
		if err := s.cfg.OnConnect(c.ctx, ConnectEvent{Conn: c}); err != nil {
			c.startClose(closeRequest{code: shared.CloseRejected, reason: err.Error(), send: true, flush: true})
		}
	}
	for {
		c.alive()
		typ, data, err := c.readMessage()
		if errors.Is(err, errTooBig) {
			// Over the limit once decompressed. gorilla has not noticed (it
			// counts wire bytes), so the close is ours to send; the rest of
			// the message is skipped by the next read.
			c.startClose(closeRequest{code: shared.CloseTooBig, reason: "message too big", send: true})
			continue
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		if c.isClosing() {
			continue // wait for the peer's close frame; ignore what it still sends
		}
		s.stats.messagesIn.Add(1)
		s.dispatchFrame(c, typ, data)
	}
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
// just finished, so no time passed waiting for the client).
func (c *Conn) alive() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.srv.cfg.HeartbeatTimeout))
}

// readFailed records why reading stopped.
func (c *Conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	var fe flate.CorruptInputError
	switch {
	case errors.As(err, &ce):
		// The peer closed; gorilla already answered with a close frame.
		c.startClose(closeRequest{code: ce.Code, reason: ce.Text})
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla already sent close 1009. Drain what the client still sends,
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
		// gorilla already sent close 1002 (RFC 6455 §7.1.7: fail the
		// connection). Drain, as for the read limit.
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
