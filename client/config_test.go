package client

import (
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/internal/testmsg"
)

// TestNewRefusesMeaninglessConfig: a negative duration, or a MaxBackoff
// below MinBackoff, is refused by New with an error that names the field
// instead of being replaced by a default.
func TestNewRefusesMeaninglessConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" means accepted
	}{
		{"zero value", Config{}, ""},
		{"no outbox", Config{Outbox: -1}, ""},
		{"negative min backoff", Config{MinBackoff: -time.Second}, "MinBackoff is -1s"},
		{"negative request timeout", Config{RequestTimeout: -1}, "RequestTimeout"},
		{"negative ping interval", Config{PingInterval: -time.Second}, "PingInterval"},
		{"max below min", Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "MaxBackoff 1ms is below MinBackoff 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "client config: ") {
				t.Fatalf("New = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestOnIsStrict: a handler for a type the client's registry does not know
// could never run, so On panics at setup with a message naming the type, as
// server.Handle does; a known type registers fine.
func TestOnIsStrict(t *testing.T) {
	bare := newClient(t, Config{Registry: shared.NewRegistry()})
	full := newClient(t, Config{})
	panicText := func(f func()) (msg string) {
		defer func() {
			if r := recover(); r != nil {
				msg = r.(string)
			}
		}()
		f()
		return ""
	}
	if got := panicText(func() { On(full, func(testmsg.ChatMessage) {}) }); got != "" {
		t.Fatalf("On for a registered type panicked: %s", got)
	}
	want := `client.On: message type "chat.message" is not in the client's registry`
	if got := panicText(func() { On(bare, func(testmsg.ChatMessage) {}) }); !strings.Contains(got, want) {
		t.Fatalf("On for an unregistered type: panic %q, want one containing %q", got, want)
	}
	if got := panicText(func() { OnMeta(bare, func(testmsg.ChatMessage, Meta) {}) }); !strings.Contains(got, want) {
		t.Fatalf("OnMeta for an unregistered type: panic %q, want one containing %q", got, want)
	}
}
