package webapp

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// DefaultIconPrefix is the URL path under which New serves the icons it
// gives an app that names none (app.Handler.Icon left empty): Tether's
// logo, 192 and 512 pixels and SVG. Without them go-app would point the
// page, its manifest and its service worker at icons on GitHub, which the
// default Content-Security-Policy refuses (and which an offline app
// cannot fetch).
const DefaultIconPrefix = "/webapp/"

//go:embed icon/icon-192.png icon/icon-512.png icon/icon.svg
var defaultIcons embed.FS

// iconFiles serves the embedded icons under DefaultIconPrefix.
func iconFiles() http.Handler {
	sub, err := fs.Sub(defaultIcons, "icon")
	if err != nil {
		panic("webapp: embedded icons: " + err.Error()) // the embed directive guarantees the directory
	}
	return http.StripPrefix(DefaultIconPrefix[:len(DefaultIconPrefix)-1], http.FileServer(noDirFS{http.FS(sub)}))
}

// defaultIcon fills what the app left empty of icon so that no field falls
// back to go-app's GitHub-hosted icons: no icon at all gets Tether's; an
// app with its own PNG but no SVG gets its PNG as the SVG too (browsers
// decode by content).
func defaultIcon(icon *app.Icon) {
	if icon.Default == "" {
		icon.Default = DefaultIconPrefix + "icon-192.png"
		if icon.Large == "" {
			icon.Large = DefaultIconPrefix + "icon-512.png"
		}
		if icon.Maskable == "" {
			icon.Maskable = DefaultIconPrefix + "icon-512.png"
		}
		if icon.SVG == "" {
			icon.SVG = DefaultIconPrefix + "icon.svg"
		}
	}
	if icon.SVG == "" {
		icon.SVG = icon.Default
	}
}
