package shared

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxTypeLen bounds the length of a wire type name.
const MaxTypeLen = 64

// Envelope is one frame on the wire. Every message, system or user, travels
// inside one.
type Envelope struct {
	// Type is the stable wire name of the message in Data, e.g. "chat.message".
	Type string `json:"type"`
	// ID is the request id chosen by the sender of a request; replies and
	// errors about that request carry the same id. Zero means "no reply wanted".
	ID uint64 `json:"id,omitempty"`
	// Key is the idempotency key of an application request: the server runs
	// at most one request per key and user within its window and answers a
	// repeat with the first one's answer (docs/protocol.md §3). Empty: none.
	Key string `json:"key,omitempty"`
	// Round marks a keyed request as one of the connection's ordered sends
	// (a client's outbox written ahead of its answers) and numbers the
	// client's attempt at them, from 1 up. After the server answered an
	// ordered send rate_limited or unavailable (not run), it refuses the
	// ordered sends that follow on the connection with unavailable, without
	// running them, as long as their round is not above the refused one's:
	// what it runs of them is always in the order they were written
	// (docs/protocol.md §3). Zero: not an ordered send. Only with Key.
	Round uint64 `json:"round,omitempty"`
	// Room is the room a server-published message belongs to.
	Room string `json:"room,omitempty"`
	// Seq is the server-assigned, per-room sequence number (1, 2, 3, ...) of a
	// room message. Zero for messages outside a room.
	Seq uint64 `json:"seq,omitempty"`
	// Data is the message itself, a JSON object shaped like its Go struct.
	Data json.RawMessage `json:"data,omitempty"`
}

// Sentinel errors returned (wrapped in a *DecodeError) by the codec.
var (
	// ErrMalformed means the frame is not a valid JSON envelope.
	ErrMalformed = errors.New("malformed envelope")
	// ErrUnknownType means the envelope names a type the registry does not know.
	ErrUnknownType = errors.New("unknown message type")
	// ErrBadData means the data does not fit the struct of its type.
	ErrBadData = errors.New("data does not fit message type")
)

// DecodeError describes why a frame could not be decoded. It wraps one of
// ErrMalformed, ErrUnknownType or ErrBadData, so callers use errors.Is.
type DecodeError struct {
	// Kind is ErrMalformed, ErrUnknownType or ErrBadData.
	Kind error
	// Type is the envelope's type, when it could be read.
	Type string
	// ID is the envelope's request id, when it could be read, so an error
	// reply can reference it.
	ID uint64
	// Field names the offending JSON field, when known (e.g. "data.price").
	Field string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Type != "" {
		fmt.Fprintf(&b, " %q", e.Type)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match the Kind sentinel and the underlying error.
func (e *DecodeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// DecodeEnvelope parses one frame into an Envelope without looking at Data
// (Registry.Decode and Unmarshal check it). It fails with ErrMalformed when
// the frame is not a JSON object, has one of its keys twice, has no type,
// or has a type that is not a valid wire name.
func DecodeEnvelope(frame []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(frame, &env); err != nil {
		return Envelope{}, &DecodeError{Kind: ErrMalformed, Field: JSONField(err), Err: err}
	}
	if err := DuplicateKey(frame, 1); err != nil {
		var dk *DuplicateKeyError
		errors.As(err, &dk)
		return Envelope{}, &DecodeError{Kind: ErrMalformed, ID: env.ID, Field: dk.Path, Err: err}
	}
	if err := ValidTypeName(env.Type); err != nil {
		return Envelope{}, &DecodeError{Kind: ErrMalformed, ID: env.ID, Field: "type", Err: err}
	}
	return env, nil
}

// ValidTypeName reports whether name may be used as a wire type: 1 to
// MaxTypeLen characters from [a-z0-9._-], starting with a letter.
func ValidTypeName(name string) error {
	if name == "" {
		return errors.New("type is empty")
	}
	if len(name) > MaxTypeLen {
		return fmt.Errorf("type is longer than %d characters", MaxTypeLen) // ASCII only
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("type %q: invalid character at %d (want [a-z][a-z0-9._-]*)", name, i)
		}
	}
	return nil
}

// Encode wraps m in an envelope and encodes it. The envelope's Type is always
// m.MessageType(); env's Type and Data are ignored.
func Encode(env Envelope, m Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	env.Type = m.MessageType()
	env.Data = data
	return EncodeEnvelope(env)
}

// EncodeEnvelope encodes an envelope whose Data is already JSON.
func EncodeEnvelope(env Envelope) ([]byte, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope %s: %w", env.Type, err)
	}
	return b, nil
}
