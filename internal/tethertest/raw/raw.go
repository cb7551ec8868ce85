// Package raw speaks the Tether protocol over a bare gorilla/websocket
// connection: the welcome, a join and its answer, reading until a type. The
// load tool and the tests share it (through tethertest), so that the
// handshake a raw client does is written once. It imports neither the server
// nor the client, so a program linking it does not link them.
package raw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// joinID is the request id of the join DialJoin sends.
const joinID = 1

// ErrJoinRefused is returned by Join when the server answers the join with
// something other than joined (an error message).
var ErrJoinRefused = errors.New("join refused")

// DialJoin connects to url with d and the handshake header h (nil: none), reads the welcome, joins room without
// history and waits for joined. ctx bounds the whole exchange. On an error
// the connection is closed; a handshake the server refused is described by
// HandshakeError. The connection answers pings as AnswerPings says.
func DialJoin(ctx context.Context, d *websocket.Dialer, url string, h http.Header, room string) (*websocket.Conn, shared.Welcome, error) {
	ws, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		return nil, shared.Welcome{}, HandshakeError(resp, err)
	}
	AnswerPings(ws)
	if deadline, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(deadline)
	}
	w, err := ReadWelcome(ws)
	if err == nil {
		err = Join(ws, room)
	}
	if err != nil {
		_ = ws.Close()
		return nil, shared.Welcome{}, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, w, nil
}

// PongTimeout bounds the write of the pong that answers a server's ping.
// gorilla's own ping handler gives it one second and, when that passes,
// fails the read: on a starved machine (the race detector, thousands of
// goroutines on two cores) a reader that was merely late then stopped
// reading for good while the server still served it.
const PongTimeout = 10 * time.Second

// AnswerPings has ws answer the server's pings (while something reads it)
// with a pong written within PongTimeout. A pong that could not be written
// in time does not stop the reading: the server's heartbeat timeout judges
// a peer that does not answer.
func AnswerPings(ws *websocket.Conn) {
	ws.SetPingHandler(func(data string) error {
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(PongTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return fmt.Errorf("answer ping: %w", err)
	})
}

// ReadWelcome reads the first frame of a connection, which must be welcome.
func ReadWelcome(ws *websocket.Conn) (shared.Welcome, error) {
	_, frame, err := ws.ReadMessage()
	if err != nil {
		return shared.Welcome{}, fmt.Errorf("read welcome: %w", err)
	}
	w, _, err := shared.UnmarshalFrame[shared.Welcome](frame)
	if err != nil {
		return shared.Welcome{}, fmt.Errorf("first frame is not welcome: %w", err)
	}
	return w, nil
}

// Join sends a join of room without history and reads until its answer,
// skipping what comes before it (presence of earlier members, their chat).
// An answer other than joined is an error wrapping ErrJoinRefused with the
// answer's data.
func Join(ws *websocket.Conn, room string) error {
	join, err := shared.Encode(shared.Envelope{ID: joinID}, shared.Join{Room: room})
	if err != nil {
		return fmt.Errorf("encode join: %w", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
		return fmt.Errorf("send join: %w", err)
	}
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("wait for joined: %w", err)
		}
		env, err := shared.DecodeEnvelope(frame)
		if err != nil {
			return fmt.Errorf("wait for joined: %w", err)
		}
		if env.ID != joinID {
			continue
		}
		if env.Type != shared.TypeOf[shared.Joined]() {
			return fmt.Errorf("%w: answered with %s %s", ErrJoinRefused, env.Type, env.Data)
		}
		return nil
	}
}

// ReadType reads frames until one of type typ and returns its envelope. The
// caller sets the read deadline.
func ReadType(ws *websocket.Conn, typ string) (shared.Envelope, error) {
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			return shared.Envelope{}, fmt.Errorf("wait for %s: %w", typ, err)
		}
		env, err := shared.DecodeEnvelope(frame)
		if err != nil {
			return shared.Envelope{}, fmt.Errorf("wait for %s: frame %q: %w", typ, frame, err)
		}
		if env.Type == typ {
			return env, nil
		}
	}
}

// HandshakeError describes a failed dial; a refusal by the server is
// described by its status and, when the body is a Tether error, its code and
// message.
func HandshakeError(resp *http.Response, err error) error {
	if resp == nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e shared.Error
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return fmt.Errorf("handshake refused: HTTP %d %s: %s", resp.StatusCode, e.Code, e.Message)
	}
	return fmt.Errorf("handshake refused: HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}
