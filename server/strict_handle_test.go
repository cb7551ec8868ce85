package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// panicText runs f and returns what it panicked with ("" when it did not).
func panicText(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
	}()
	f()
	return ""
}

// TestHandleIsStrict: a handler for a type the server's registry does not
// know, for a system type, or for a type that has one already, panics at
// setup with a message naming the type, the way client.On does for the
// client's registry.
func TestHandleIsStrict(t *testing.T) {
	chat := func(context.Context, *server.Conn, testmsg.ChatSend) error { return nil }
	bare := tethertest.NewServer(t, server.Config{Registry: shared.NewRegistry()}).Server
	full := tethertest.NewServer(t, server.Config{}).Server
	tests := []struct {
		name string
		f    func()
		want string // "" means no panic
	}{
		{"registered type", func() { server.Handle(full, chat) }, ""},
		{"same type again", func() { server.Handle(full, chat) }, `"chat.send" already has a handler`},
		{"type the registry does not know", func() { server.Handle(bare, chat) }, `server.Handle: message type "chat.send" is not in the server's registry`},
		{"system type", func() {
			server.Handle(full, func(context.Context, *server.Conn, shared.Join) error { return nil })
		}, `"join" is handled by the server`},
	}
	for _, tt := range tests { // in order: "same type again" follows "registered type"
		if got := panicText(tt.f); (tt.want == "" && got != "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: panic %q, want one containing %q", tt.name, got, tt.want)
		}
	}
}
