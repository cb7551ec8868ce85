package ui

import (
	"context"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// feature is one part of the app (rooms and presence, chat, dice, the
// outbox and "… is typing", notifications, ticker, danmaku, gap filling):
// it owns its store and registers its own handlers on the client of every
// login. NewSession lists the features once; the Session keeps the login,
// the connection's status and the client, and knows none of the features'
// messages. Adding a message type to the demo touches its feature's file
// (and that list, for a new feature), not the Session.
type feature interface {
	// wire registers the feature's handlers on the client of a new login.
	wire(l login)
	// reset forgets what belonged to the login that ended (at logout).
	reset()
}

// login is what a feature is given of one login.
type login struct {
	// cl is the login's client.
	cl *client.Client
	// ctx is done at logout.
	ctx context.Context
	// mine reports whether cl is still the session's client: a handler
	// guarded by it (handle, handleMeta) does nothing after a logout.
	mine func() bool
	// user returns the signed-in user's id (the server may pick it).
	user func() string
}

// handle registers h for messages of type T on the login's client, guarded by
// l.mine.
func handle[T shared.Message](l login, h func(T)) { client.On(l.cl, only(l.mine, h)) }

// handleMeta is handle for handlers that take the message's Meta too.
func handleMeta[T shared.Message](l login, h func(T, client.Meta)) {
	client.OnMeta(l.cl, onlyMeta(l.mine, h))
}

// only returns h guarded by mine: it does nothing once mine is false.
func only[T any](mine func() bool, h func(T)) func(T) {
	return func(v T) {
		if mine() {
			h(v)
		}
	}
}

// onlyMeta is only for handlers that take the message's Meta too.
func onlyMeta[T any](mine func() bool, h func(T, client.Meta)) func(T, client.Meta) {
	return func(v T, meta client.Meta) {
		if mine() {
			h(v, meta)
		}
	}
}

// noReset is embedded by features with nothing to forget at logout (what
// they show outlives a login).
type noReset struct{}

func (noReset) reset() {}
