package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// The app's icons are inline SVG drawn with currentColor, so they look the
// same everywhere: emoji need a colour-emoji font, and where none is
// installed (headless Chromium on Debian, many Linux desktops) they are
// empty boxes.

// svgOpen starts every icon: a 24×24 outline drawing in the text colour.
const svgOpen = `<svg class="icon" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">`

// Icon shapes, inside svgOpen.
const (
	iconChat     = `<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.6A8 8 0 1 1 21 12z"/>`
	iconBell     = `<path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/>`
	iconTicker   = `<polyline points="3 17 9 11 13 15 21 7"/><polyline points="15 7 21 7 21 13"/>`
	iconDanmaku  = `<rect x="2" y="4" width="20" height="16" rx="3"/><line x1="6" y1="9" x2="14" y2="9"/><line x1="10" y1="13" x2="18" y2="13"/><line x1="6" y1="17" x2="11" y2="17"/>`
	iconAdmin    = `<path d="M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.8-.6-.6-2.8z"/>`
	iconDice     = `<rect x="3" y="3" width="18" height="18" rx="4"/><circle cx="8" cy="8" r="1.3" fill="currentColor"/><circle cx="16" cy="8" r="1.3" fill="currentColor"/><circle cx="12" cy="12" r="1.3" fill="currentColor"/><circle cx="8" cy="16" r="1.3" fill="currentColor"/><circle cx="16" cy="16" r="1.3" fill="currentColor"/>`
	iconMegaphon = `<path d="M3 11v2a1 1 0 0 0 1 1h3l6 4V6L7 10H4a1 1 0 0 0-1 1z"/><path d="M16.5 8.5a5 5 0 0 1 0 7"/><path d="M19 6a8.5 8.5 0 0 1 0 12"/>`
)

// icon is an inline SVG icon in a span of class, hidden from screen
// readers (the control it decorates carries the label).
func icon(class, shape string) app.UI {
	return app.Raw(`<span class="` + class + `" aria-hidden="true">` + svgOpen + shape + `</svg></span>`)
}
