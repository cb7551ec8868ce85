// Package ui is the poll's page, a go-app component tree that the server
// renders first and the wasm bundle (cmd/poll-web) takes over in the
// browser. It signs in with the server's guest login (client/session),
// talks to the server with the Tether client, and shows the client's
// events through client/goapp, so each component updates with its own
// context.
package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// Handler returns the page's go-app settings; the server hands it to
// server/webapp with Routes.
func Handler() *app.Handler {
	return &app.Handler{
		Name:         "Poll",
		ShortName:    "Poll",
		Title:        "Live poll",
		Description:  "A live poll, built with Tether.",
		Lang:         "en",
		LoadingLabel: "Loading the poll… {progress}%",
		Styles:       []string{"/web/app.css"},
	}
}

// Routes registers the page; the server and the wasm main both call it.
func Routes() {
	app.Route("/", func() app.Composer { return &Page{} })
}
