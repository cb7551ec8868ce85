package server

import (
	"errors"
	"net"
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
	c.ws.SetReadLimit(s.cfg.ReadLimit)
	c.ws.SetPongHandler(func(string) error {
		c.alive()
		s.onPong(c)
		return nil
	})
	c.ws.SetPingHandler(func(data string) error {
		c.alive()
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
		if err := s.cfg.OnConnect(c.ctx, c); err != nil {
			c.startClose(closeRequest{code: shared.CloseRejected, reason: err.Error(), send: true, flush: true})
		}
	}
	for {
		c.alive()
		typ, data, err := c.ws.ReadMessage()
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

// alive pushes the heartbeat deadline: something was received (or a handler
// just finished, so no time passed waiting for the client).
func (c *Conn) alive() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.srv.cfg.HeartbeatTimeout))
}

// readFailed records why reading stopped.
func (c *Conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
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
		c.startClose(closeRequest{code: shared.CloseHeartbeat, reason: "heartbeat timeout", send: true})
	default:
		c.startClose(closeRequest{code: websocket.CloseAbnormalClosure, reason: "connection lost"})
	}
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
