package client

import (
	"context"
	"fmt"
	"time"
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

// HandshakeError reports that the server refused the WebSocket handshake
// with an HTTP error before the upgrade (docs/protocol.md §1): 401
// unauthorized (no valid token), 403 forbidden (origin), 429 rate_limited
// (too many connections), 503 closed (shutting down). A 401 or 403 is
// terminal: the same handshake will be refused again, so Run stops and
// returns it, and Join and Request fail with it. The others are retried
// with backoff. Both transports return it: NativeTransport reads the HTTP
// response; browsers hide it from scripts, so BrowserTransport asks the
// same URL with a plain GET after a failed handshake (docs/protocol.md §1),
// which the server refuses the same way.
type HandshakeError struct {
	// Status is the HTTP status code, e.g. 401.
	Status int
	// Code is the error code of the response body, e.g. "unauthorized",
	// when it had one.
	Code string
	// Message is the body's human sentence, when it had one: for a ban
	// (Code "banned") the time left and the reason.
	Message string
	// RetryAfter is the response's Retry-After: how long a ban still lasts,
	// when to try again after a 429. Zero when it had none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HandshakeError) Error() string {
	s := fmt.Sprintf("websocket handshake refused with HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Terminal reports whether retrying the same handshake is pointless: the
// server refused the identity (401) or the origin (403).
func (e *HandshakeError) Terminal() bool {
	return e.Status == 401 || e.Status == 403
}
