package server

import (
	"encoding/json"
	"fmt"
	"time"
)

// MaxKeyLen bounds an idempotency key (docs/protocol.md §3).
const MaxKeyLen = 64

// KeyWait bounds how long a keyed request whose key is claimed by a run
// that has not finished yet (on this node or another) waits for that run's
// answer before it is answered with an internal error (docs/protocol.md §3).
const KeyWait = 10 * time.Second

// validKey checks an idempotency key: 1 to MaxKeyLen printable ASCII bytes.
func validKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key is longer than %d bytes", MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < '!' || c > '~' {
			return fmt.Errorf("key: invalid character at %d (want printable ASCII without spaces)", i)
		}
	}
	return nil
}

// rawReply is a reply message kept as its type and encoded data.
type rawReply struct {
	typ  string
	data json.RawMessage
}

func (r rawReply) MessageType() string          { return r.typ }
func (r rawReply) MarshalJSON() ([]byte, error) { return r.data, nil }
