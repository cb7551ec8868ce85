package server

import "github.com/tetherkit/tether/shared"

// Ordered sends (docs/protocol.md §3): a client may write several keyed
// requests ahead of their answers, marked with a round (shared.Envelope's
// Round). The server runs a connection's messages one at a time, in the
// order they arrive, so what it applies of them is in their order, except
// when one is refused as "not run, send it again" (rate_limited,
// unavailable) and the next one runs: the refused one would then come after
// it. So after such a refusal the ordered sends that follow are held back
// (refused unavailable, not run) until the client starts a new round, which
// it does by sending the refused one again and the rest after it.

// orderedHeldMessage answers an ordered send held back behind a refused one.
const orderedHeldMessage = "not run: an earlier ordered send on this connection was not run; send it again first, then this one, in a new round"

// orderedHeld reports whether env is an ordered send to refuse because an
// earlier one of its round was refused. Called where the connection's
// messages are handled, one at a time.
func (c *Conn) orderedHeld(env shared.Envelope) bool {
	return env.Round != 0 && env.Key != "" && env.Round <= c.heldRound
}

// holdOrdered records that env was answered with code: when env is an
// ordered send and the code means "not run, send it again", the sends of its
// round that follow it are held back. Called where the connection's
// messages are handled, one at a time.
func (c *Conn) holdOrdered(env shared.Envelope, code string) {
	if env.Round == 0 || env.Key == "" {
		return
	}
	if code == shared.CodeRateLimited || code == shared.CodeUnavailable {
		c.heldRound = max(c.heldRound, env.Round)
	}
}
