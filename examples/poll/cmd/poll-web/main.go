// Command poll-web is the poll's page compiled to WebAssembly. It links the
// client and the UI only, never the server:
//
//	GOOS=js GOARCH=wasm go build -o examples/poll/web/app.wasm ./examples/poll/cmd/poll-web
package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/examples/poll/ui"
)

func main() {
	ui.Routes()
	app.RunWhenOnBrowser() // in a browser: runs the app and never returns
}
