// Package ui is Tether's demo web app, written with go-app: chat rooms with
// presence and history, toast notifications, a live ticker and a danmaku
// (bullet comment) stage, plus an admin page over the HTTP API.
//
// The same package runs in two places. Compiled to WebAssembly
// (demo/cmd/tether-web) it is the app; linked into the server (cmd/tether
// hands Routes and Handler to server/webapp) it renders each page to HTML
// before the wasm takes over. Routes registers the pages for both.
//
// Every page shares one connection, a [Session] holding a *client.Client:
// the client core is the only path to the server. What the pages show lives
// in features (feature.go), each the only owner of its store and the one to
// register its handlers on every login's client: the rooms joined and why,
// with presence (rooms.go), the chat's messages (chatlog.go), dice rolls
// (dice.go), the outbox's pending lines and "… is typing" (outbox.go), the
// notification log (notifications.go), the ticker's quotes (ticker.go),
// danmaku comments (danmaku.go) and gap filling (gap.go); NewSession lists
// them once. Toasts (toasts.go) are shown by several. Components watch the stores they render (a tiny
// generic observable, observable.go) and re-render through go-app's
// Context.Dispatch.
package ui
