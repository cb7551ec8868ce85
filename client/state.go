package client

import (
	"fmt"
	"time"

	"github.com/tetherkit/tether/shared"
)

// State is the connection state of a Client.
type State int

// The states of a Client. A new Client is Connecting (it connects as soon as
// Run is called).
const (
	// Connecting: dialling and waiting for the server's welcome.
	Connecting State = iota
	// Open: connected and greeted; messages flow.
	Open
	// Reconnecting: the connection was lost or could not be made; the next
	// attempt is at StateInfo.RetryAt.
	Reconnecting
	// Closed: the client stopped (Close, the Run context, the server kicked
	// or rejected it, or refused its handshake with 401 or 403: see
	// HandshakeError) and will not reconnect by itself.
	Closed
)

// String returns the lower-case name of s, e.g. "open".
func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Open:
		return "open"
	case Reconnecting:
		return "reconnecting"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StateInfo describes the client's state and why it is in it.
type StateInfo struct {
	// State is the state.
	State State
	// RetryAt is when the next connection attempt starts (Reconnecting).
	RetryAt time.Time
	// Attempt counts the failures in a row (Connecting, Reconnecting): 0 for
	// the first connection, n in the n-th Reconnecting and in the Connecting
	// that follows it. A failure is a dial or handshake that did not succeed,
	// or the loss of a connection before it had rejoined every remembered
	// room (and less than 10s after it opened); losing a connection that got
	// welcome and rejoined its rooms counts as the first failure again, so
	// the backoff starts over (see Config.MaxBackoff).
	Attempt int
	// Err is why the last connection ended or could not be made
	// (Reconnecting; Closed when the server closed it).
	Err error
	// CloseCode is the WebSocket close code that ended the connection, when
	// there was one: the server's (e.g. shared.CloseKicked) or, when the
	// client closed, shared.CloseNormal (Reconnecting, Closed).
	CloseCode int
	// Reason is the close reason; for a kick, the reason from the kicked
	// message when the close frame carries none.
	Reason string
	// Welcome is the server's greeting on the current connection (Open).
	Welcome shared.Welcome
	// Hidden reports (Reconnecting) that the page was hidden or frozen
	// (Hide): the connection was closed on purpose and the next attempt
	// starts when the page is shown again (Show), not at RetryAt, which is
	// zero.
	Hidden bool
}

// State returns the client's current state.
func (c *Client) State() StateInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// OnState registers fn to be called with the new state on every state
// change, in registration order, on the Run goroutine (see the package
// documentation: it must not block).
func (c *Client) OnState(fn func(StateInfo)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stateFns = append(c.stateFns[:len(c.stateFns):len(c.stateFns)], fn)
}

// setState records s, wakes goroutines waiting for a change, and calls the
// OnState callbacks. locked, when not nil, runs under c.mu together with the
// change, so that other fields change atomically with the state.
func (c *Client) setState(s StateInfo, locked func()) {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.mu.Lock()
	c.state = s
	if locked != nil {
		locked()
	}
	close(c.changed)
	c.changed = make(chan struct{})
	fns := c.stateFns
	c.mu.Unlock()
	for _, fn := range fns {
		fn(s)
	}
}
