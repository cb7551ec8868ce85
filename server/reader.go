package server

import (
	"errors"
	"io"
	"time"

	"github.com/tetherkit/tether/shared"
)

// readLoop is the connection's reader goroutine: it reads frames, keeps the
// heartbeat deadline, and dispatches messages (handlers run here, in order).
// It never writes to the socket: pongs and the answer to a close frame are
// the writer's (see batchConn). It returns when the socket fails or closes,
// having recorded why (readFailed).
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
		c.q.sendPong([]byte(data)) // the writer answers, ahead of queued data
		return nil
	})
	c.ws.SetCloseHandler(c.onPeerClose)
	if s.cfg.OnConnect != nil && !c.isClosing() {
		offReader(func() {
			if err := s.cfg.OnConnect(c.ctx, ConnectEvent{Conn: c}); err != nil {
				c.startClose(closeRequest{code: shared.CloseRejected, reason: err.Error(), send: true, flush: true})
			}
		})
	}
	for {
		c.alive()
		// At a message boundary with nothing buffered: wait for the next
		// byte without a read buffer.
		if c.rb.release() {
			if err := c.rb.waitFirst(); err != nil {
				c.readFailed(err)
				return
			}
			c.rb.acquire()
		}
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
		offReader(func() { s.dispatchFrame(c, typ, data) })
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
// just finished, so no time passed waiting for the client).
func (c *Conn) alive() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.srv.cfg.HeartbeatTimeout))
}
