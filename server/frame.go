package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// outFrame is one item of a connection's send queue: either a message framed
// once for many connections (prepared) or one for this connection only (raw),
// with its wire type and size for the Observer. Queues hold pointers, so that
// the buffer each connection's queue allocates whole stays at 8 bytes a
// slot, and one prepared frame is shared by every queue it is in; a frame is
// not changed once queued.
//
// A batch item carries several frames (a join's replay) in one slot: the
// replay is bounded by the room's history, not by the send queue, so a room
// whose history is longer than the queue can still be resumed.
type outFrame struct {
	prepared *websocket.PreparedMessage
	raw      []byte
	typ      string      // the envelope's type
	size     int         // the encoded envelope's length in bytes
	batch    []*outFrame // when set, the frames to write in order instead
}

// encode wraps m in env and encodes it for one connection.
func encode(env shared.Envelope, m shared.Message) (*outFrame, error) {
	b, err := shared.Encode(env, m)
	if err != nil {
		return nil, err
	}
	return &outFrame{raw: b, typ: m.MessageType(), size: len(b)}, nil
}

// prepare wraps m in env and frames it once for many connections.
func prepare(env shared.Envelope, m shared.Message) (*outFrame, error) {
	b, err := shared.Encode(env, m)
	if err != nil {
		return nil, err
	}
	return prepareBytes(m.MessageType(), b)
}

// prepareBytes frames an encoded envelope of type typ once for many
// connections.
func prepareBytes(typ string, b []byte) (*outFrame, error) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return nil, fmt.Errorf("prepare %s frame: %w", typ, err)
	}
	return &outFrame{prepared: pm, typ: typ, size: len(b)}, nil
}

// randomID returns n random bytes in hex: connection ids and room epochs.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}
