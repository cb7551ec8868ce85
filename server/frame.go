package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// outFrame is one item of a connection's send queue: either a message framed
// once for many connections (prepared) or one for this connection only (raw).
type outFrame struct {
	prepared *websocket.PreparedMessage
	raw      []byte
}

// encode wraps m in env and encodes it for one connection.
func encode(env shared.Envelope, m shared.Message) (outFrame, error) {
	b, err := shared.Encode(env, m)
	if err != nil {
		return outFrame{}, err
	}
	return outFrame{raw: b}, nil
}

// prepare wraps m in env and frames it once for many connections.
func prepare(env shared.Envelope, m shared.Message) (outFrame, error) {
	b, err := shared.Encode(env, m)
	if err != nil {
		return outFrame{}, err
	}
	return prepareBytes(b)
}

// prepareBytes frames an encoded envelope once for many connections.
func prepareBytes(b []byte) (outFrame, error) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return outFrame{}, fmt.Errorf("prepare frame: %w", err)
	}
	return outFrame{prepared: pm}, nil
}

// randomID returns n random bytes in hex: connection ids and room epochs.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}
