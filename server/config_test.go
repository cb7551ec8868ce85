package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/server"
)

// TestNewRefusesMeaninglessConfig: a value that has no meaning is refused
// by New with an error that names the field, instead of being replaced by
// the default behind the caller's back; zero and the documented negatives
// are accepted.
func TestNewRefusesMeaninglessConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  server.Config
		want string // in the error; "" means accepted
	}{
		{"zero value but the identity, chosen by name", server.Config{Authenticate: server.InsecureQueryIdentity}, ""},
		{"no Authenticate", server.Config{}, "Authenticate is nil"},
		{"documented negatives", server.Config{Authenticate: server.InsecureQueryIdentity, MaxReplay: -1,
			MaxRoomsPerConn: -1, MessageRate: -1, MaxConnsPerUser: -1, MaxConnsPerIP: -1, MaxHTTPConnsPerIP: -1}, ""},
		{"negative heartbeat", server.Config{Heartbeat: -time.Second}, "Heartbeat is -1s"},
		{"negative read limit", server.Config{ReadLimit: -1}, "ReadLimit is -1"},
		{"negative send queue", server.Config{SendQueue: -8}, "SendQueue is -8"},
		{"negative burst", server.Config{MessageBurst: -1}, "MessageBurst is -1"},
		{"negative handshake timeout", server.Config{HandshakeTimeout: -time.Second}, "HandshakeTimeout"},
		{"timeout within one heartbeat", server.Config{Heartbeat: time.Second, HeartbeatTimeout: time.Second}, "not longer than Heartbeat"},
		{"two at once", server.Config{WriteTimeout: -1, IdempotencyTTL: -1}, "IdempotencyTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := server.New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New = %v, want a server", err)
				}
				if err := srv.Shutdown(t.Context()); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "server config: ") {
				t.Fatalf("New = %v, want an error naming %q", err, tt.want)
			}
			if srv != nil {
				t.Fatal("New returned a server along with its error")
			}
		})
	}
}
