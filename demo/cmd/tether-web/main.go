// Command tether-web is Tether's browser app, compiled to WebAssembly:
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o web/app.wasm ./demo/cmd/tether-web
//
// (build.sh does that and precompresses the result). The server
// (cmd/tether, through server/webapp) serves the bundle and renders the same
// pages on the server first. This program links the client core and the UI
// only: never the server.
package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/demo/ui"
)

func main() {
	ui.Routes()
	// In the browser this starts the app and never returns; on any other
	// platform it returns at once.
	app.RunWhenOnBrowser()
}
