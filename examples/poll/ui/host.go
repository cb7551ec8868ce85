//go:build !wasm

package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// Handler returns the page's go-app settings; the server hands it to
// server/webapp with Routes. It is the server's
// only: the browser's bundle, built by tether-build, leaves go-app's HTTP
// handler out (a smaller bundle), so this file is not part of it.
func Handler() *app.Handler {
	return &app.Handler{
		Name:         "Poll",
		ShortName:    "Poll",
		Title:        "Live poll",
		Description:  "A live poll, built with Tether.",
		Lang:         "en",
		LoadingLabel: "Loading the poll…",
		Styles:       []string{"/web/app.css"},
	}
}
