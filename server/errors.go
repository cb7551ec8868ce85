package server

import (
	"errors"
	"unicode/utf8"

	"github.com/tetherkit/tether/shared"
)

// Sentinel errors returned by the Server's methods; match them with errors.Is.
var (
	// ErrNotFound means no connection, user or room of that name exists.
	ErrNotFound = errors.New("not found")
	// ErrClosed means the connection or server is closed or closing.
	ErrClosed = errors.New("closed")
	// ErrNotJoined means the operation needs the room to be joined first.
	// Returned from a handler, it reaches the client as code not_joined.
	ErrNotJoined = errors.New("room not joined")
	// ErrUnavailable means a dependency of the server (the broker: in a
	// cluster NATS, the rooms stream or one of its buckets) could not be
	// reached, so the operation was not done. Publish and PublishEphemeral
	// wrap it around the broker's error. Returned from a handler (wrapped or
	// not), it reaches the client as code unavailable with a fixed sentence,
	// never the dependency's text, and a keyed request's key is released so
	// that the client may send it again (docs/protocol.md §3, §4).
	ErrUnavailable = errors.New("unavailable")
)

// unavailableMessage is the sentence of an unavailable answer: the
// dependency's own error stays in the server log.
const unavailableMessage = "the request was not applied: the server could not reach its message store; send it again (with the same key)"

// wireError turns a handler's error into the error message sent to the
// client: a *shared.Error passes through as is, the sentinels map to their
// codes (ErrUnavailable with a fixed sentence: a dependency's text never
// reaches a client), anything else is "rejected" with the error's text.
func wireError(err error) *shared.Error {
	var se *shared.Error
	switch {
	case errors.Is(err, ErrUnavailable):
		return &shared.Error{Code: shared.CodeUnavailable, Message: unavailableMessage}
	case errors.As(err, &se):
		return se
	case errors.Is(err, ErrNotJoined):
		return &shared.Error{Code: shared.CodeNotJoined, Message: err.Error()}
	case errors.Is(err, ErrNotFound):
		return &shared.Error{Code: shared.CodeNotFound, Message: err.Error()}
	}
	return &shared.Error{Code: shared.CodeRejected, Message: err.Error()}
}

// decodeError turns a codec error into the error message sent to the client:
// a human sentence, with the field in its own field.
func decodeError(err error) (id uint64, e *shared.Error) {
	e = &shared.Error{Code: shared.CodeMalformed, Message: err.Error()}
	var de *shared.DecodeError
	if errors.As(err, &de) {
		id = de.ID
		e.Message, e.Field = de.Sentence(), de.Field
		switch {
		case errors.Is(de.Kind, shared.ErrUnknownType):
			e.Code = shared.CodeUnknownType
		case errors.Is(de.Kind, shared.ErrBadData):
			e.Code = shared.CodeBadData
		}
	}
	return id, e
}

// maxCloseReason is the longest close reason that fits a control frame
// (125 bytes of payload minus the 2-byte code).
const maxCloseReason = 123

// closeReason cuts reason to fit a close frame, on a UTF-8 boundary.
func closeReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
