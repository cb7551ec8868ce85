package client

import (
	"context"
	"fmt"
)

// Socket is one open WebSocket connection, as seen by the client core. The
// core calls Read from one goroutine and never calls Write concurrently with
// another Write; Close may be called at any time, also while Read or Write
// are blocked, and must make them return.
type Socket interface {
	// Read returns the next text frame. When the peer closed the connection
	// it returns a *CloseError with the peer's close code and reason. It
	// returns when ctx is done.
	Read(ctx context.Context) ([]byte, error)
	// Write sends frame as one text frame. It gives up when ctx is done; the
	// socket may be unusable afterwards.
	Write(ctx context.Context, frame []byte) error
	// Close sends a close frame with code and reason (best effort) and
	// releases the connection.
	Close(code int, reason string) error
}

// Transport opens Sockets. NativeTransport and BrowserTransport implement it;
// tests use in-memory fakes.
type Transport interface {
	// Dial opens a WebSocket connection to url. ctx bounds the handshake
	// only, not the life of the Socket.
	Dial(ctx context.Context, url string) (Socket, error)
}

// CloseError reports that the peer closed the WebSocket with a close frame,
// or, with code 1006, that the connection ended without one. The codes are
// the shared.Close* constants.
type CloseError struct {
	// Code is the WebSocket close code, e.g. shared.CloseKicked.
	Code int
	// Reason is the close frame's reason text; it may be empty.
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket closed with code %d", e.Code)
	}
	return fmt.Sprintf("websocket closed with code %d: %s", e.Code, e.Reason)
}
