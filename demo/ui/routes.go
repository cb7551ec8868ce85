package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// Page paths of the app.
const (
	PathChat          = "/"
	PathNotifications = "/notifications"
	PathTicker        = "/ticker"
	PathDanmaku       = "/danmaku"
	PathAdmin         = "/admin"
)

// page is one entry of the navigation bar; icon is its SVG shape (icons.go).
type page struct{ path, title, icon string }

// pages lists the app's pages in navigation order.
func pages() []page {
	return []page{
		{PathChat, "Chat", iconChat},
		{PathNotifications, "Notifications", iconBell},
		{PathTicker, "Ticker", iconTicker},
		{PathDanmaku, "Danmaku", iconDanmaku},
		{PathAdmin, "Admin", iconAdmin},
	}
}

// Routes registers every page with go-app. Call it once before
// app.RunWhenOnBrowser in the wasm main, and on the server before serving
// pages (server/webapp does, given it as Config.Routes). All pages share
// one new Session, so that the connection survives navigation.
func Routes() {
	s := NewSession()
	for _, p := range pages() {
		path := p.path
		app.Route(path, func() app.Composer { return &Shell{Page: path, s: s} })
	}
}
