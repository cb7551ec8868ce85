//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// NativeTransport dials with gorilla/websocket. It is the default Transport
// outside the browser.
type NativeTransport struct {
	// Dialer dials. Nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// Header is sent with the handshake (e.g. Origin, Authorization, Cookie).
	Header http.Header
	// HeaderFunc, when set, is called before every dial and its header is
	// sent instead of Header: a client whose token expires (close 1008)
	// reconnects with a fresh one, e.g. "Authorization: Bearer " + token().
	// An error stops that dial attempt (the client retries with backoff).
	HeaderFunc func(ctx context.Context) (http.Header, error)
}

func defaultTransport() Transport { return NativeTransport{} }

// Dial implements Transport.
func (t NativeTransport) Dial(ctx context.Context, url string) (Socket, error) {
	d := t.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	header := t.Header
	if t.HeaderFunc != nil {
		h, err := t.HeaderFunc(ctx)
		if err != nil {
			return nil, fmt.Errorf("websocket dial: handshake header: %w", err)
		}
		header = h
	}
	ws, resp, err := d.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, handshakeError(resp)
		}
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	ws.SetPingHandler(func(data string) error { return answerPing(ws, data) })
	return &nativeSocket{ws: ws}, nil
}

// pongTimeout bounds the write of the pong that answers a server's ping.
// gorilla's default ping handler allows one second and then fails the
// connection, so a process stalled for a second (a loaded machine, a long
// GC pause, a socket briefly full) lost a healthy connection. The pong may
// take as long as the server's default write timeout; a server that is
// really gone is found by the heartbeat.
const pongTimeout = 10 * time.Second

// answerPing answers a ping with a pong, as gorilla's default handler does
// but with pongTimeout. A pong that could not be written in time does not
// end the read: if the socket is broken, the next write fails.
func answerPing(ws *websocket.Conn, data string) error {
	err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(pongTimeout))
	var ne net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("answer ping: %w", err)
}

// nativeSocket adapts a gorilla connection to Socket.
type nativeSocket struct {
	ws *websocket.Conn
}

// Read implements Socket. Binary frames are skipped: the protocol uses text
// frames only.
func (s *nativeSocket) Read(ctx context.Context) ([]byte, error) {
	deadline, hasDeadline := ctx.Deadline()
	if err := s.ws.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("websocket read: %w", err)
	}
	// gorilla reads know no context: a passed deadline unblocks them.
	stop := context.AfterFunc(ctx, func() { _ = s.ws.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		typ, data, err := s.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				return nil, &CloseError{Code: ce.Code, Reason: ce.Text}
			case ctx.Err() != nil:
				return nil, fmt.Errorf("websocket read: %w", ctx.Err())
			case hasDeadline && !time.Now().Before(deadline):
				// The socket's deadline fired a moment before ctx's.
				return nil, fmt.Errorf("websocket read: %w", context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("websocket read: %w", err)
		}
		if typ == websocket.TextMessage {
			return data, nil
		}
	}
}

// Write implements Socket.
func (s *nativeSocket) Write(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	deadline, _ := ctx.Deadline()
	if err := s.ws.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	// The underlying net.Conn's deadline: gorilla's SetWriteDeadline stores
	// a field that its writer reads, which is a data race from here.
	stop := context.AfterFunc(ctx, func() { _ = s.ws.NetConn().SetWriteDeadline(time.Now()) })
	defer stop()
	if err := s.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("websocket write: %w", ctx.Err())
		}
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// closeFrameTimeout bounds the wait for sending the close frame.
const closeFrameTimeout = time.Second

// Close implements Socket: it sends a close frame (best effort, the peer may
// be gone) and closes the network connection.
func (s *nativeSocket) Close(code int, reason string) error {
	if len(reason) > 123 { // a control frame's payload is at most 125 bytes
		reason = reason[:123]
	}
	_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(closeFrameTimeout))
	if err := s.ws.Close(); err != nil {
		return fmt.Errorf("websocket close: %w", err)
	}
	return nil
}

// handshakeError reads a refused handshake's status, JSON error body (at
// most 4 KiB) and Retry-After into a *HandshakeError.
func handshakeError(resp *http.Response) *HandshakeError {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	}
	return refused(resp.StatusCode, body, resp.Header.Get("Retry-After"))
}
