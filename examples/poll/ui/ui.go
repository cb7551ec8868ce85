// Package ui is the poll's page, a go-app component tree that the server
// renders first and the wasm bundle (cmd/poll-web) takes over in the
// browser. It signs in with the server's guest login (client/session),
// talks to the server with the Tether client, and shows the client's
// events through client/goapp, so each component updates with its own
// context.
package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// Routes registers the page; the server and the wasm main both call it.
func Routes() {
	app.Route("/", func() app.Composer { return &Page{} })
}
