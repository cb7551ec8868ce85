//go:build !wasm

package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// Handler returns the demo's go-app settings: its name, title, colours,
// loading label, style sheet and icons, all files of the web directory
// under /web/. The server hands it to server/webapp with Routes; webapp
// adds the bundle's version and size.
func Handler() *app.Handler {
	return &app.Handler{
		Name:               "Tether",
		ShortName:          "Tether",
		Title:              "Tether — real-time kit",
		Description:        "Chat, notifications, live ticker and danmaku over one WebSocket, in Go.",
		Lang:               "en",
		BackgroundColor:    "#0f172a",
		ThemeColor:         "#4f46e5",
		LoadingLabel:       "Loading Tether…",
		Styles:             []string{"/web/app.css"},
		Icon:               app.Icon{Default: "/web/icon-192.png", Large: "/web/icon-512.png", Maskable: "/web/icon-512.png", SVG: "/web/icon.svg"},
		CacheableResources: []string{"/web/icon.svg"},
	}
}
