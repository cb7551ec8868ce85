package ui

import (
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// TestScrollPinScrolled: only the reader's move up leaves the end; lines
// arriving under a reader at the end, or a move back near the end, keep or
// bring back the pin.
func TestScrollPinScrolled(t *testing.T) {
	type ev struct{ top, end float64 }
	for _, tc := range []struct {
		name   string
		events []ev
		atEnd  bool
	}{
		{"no scroll yet", nil, true},
		{"at the end", []ev{{500, 500}}, true},
		{"within the slack of the end", []ev{{500, 500 + pinSlack - 1}}, true},
		{"lines arrived since the move to the end", []ev{{500, 500}, {500, 900}}, true},
		{"moved up", []ev{{500, 500}, {300, 500}}, false},
		{"moved up, then lines arrived", []ev{{500, 500}, {300, 500}, {300, 900}}, false},
		{"moved up, then back to the end", []ev{{500, 500}, {300, 500}, {880, 900}}, true},
		{"moved up, then down but not to the end", []ev{{500, 500}, {100, 500}, {300, 900}}, false},
		{"moved up by a pixel within the slack", []ev{{500, 500}, {499, 500}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p scrollPin
			for _, e := range tc.events {
				p.scrolled(e.top, e.end)
			}
			if got := p.atEnd(); got != tc.atEnd {
				t.Errorf("atEnd() = %v, want %v", got, tc.atEnd)
			}
		})
	}
}

// TestScrollPinOffBrowser: off the browser the pin does nothing and does
// not fail.
func TestScrollPinOffBrowser(t *testing.T) {
	var p scrollPin
	p.start("chat-messages")
	p.toEnd(app.Context{})
	if !p.atEnd() {
		t.Error("atEnd() = false after toEnd")
	}
	p.stop()
}
