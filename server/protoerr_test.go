package server

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIsProtocolErrorPinsGorilla pins the gorilla/websocket behaviour that
// isProtocolError relies on: a frame that breaks RFC 6455 makes ReadMessage
// fail with an untyped error whose text starts with "websocket: ", while a
// network error does not. Close frames, the read limit and a dropped TCP
// connection (a CloseError 1006) carry the prefix too, which is why
// readFailed tells those apart first. If a gorilla
// release changes any of this, this test fails before close codes go wrong.
func TestIsProtocolErrorPinsGorilla(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte // written raw after the handshake; nil: drop the TCP connection
		limit int64  // read limit; 0 none
		own   bool   // the server closes its own socket before reading
		check func(err error) bool
		want  bool // isProtocolError
	}{
		{name: "reserved bit set", frame: []byte{0xC1, 0x80, 1, 2, 3, 4}, want: true}, // FIN|RSV1 text, masked, empty
		{name: "reserved opcode", frame: []byte{0x83, 0x80, 1, 2, 3, 4}, want: true},
		{name: "unmasked client frame", frame: []byte{0x81, 0x00}, want: true},
		{name: "fragmented ping", frame: []byte{0x09, 0x80, 1, 2, 3, 4}, want: true},
		{name: "close frame: a CloseError, checked first", frame: []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8},
			check: func(err error) bool { var ce *websocket.CloseError; return errors.As(err, &ce) }, want: true},
		{name: "read limit: ErrReadLimit, checked first", frame: []byte{0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}, limit: 2,
			check: func(err error) bool { return errors.Is(err, websocket.ErrReadLimit) }, want: true},
		{name: "connection dropped: a CloseError 1006, checked first", frame: nil,
			check: func(err error) bool {
				var ce *websocket.CloseError
				return errors.As(err, &ce) && ce.Code == websocket.CloseAbnormalClosure
			}, want: true},
		{name: "network error", frame: []byte{}, own: true,
			check: func(err error) bool { return errors.Is(err, net.ErrClosed) }, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan error, 1)
			up := websocket.Upgrader{}
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := up.Upgrade(w, r, nil)
				if err != nil {
					errs <- err
					return
				}
				defer ws.Close()
				if tt.limit > 0 {
					ws.SetReadLimit(tt.limit)
				}
				if tt.own {
					_ = ws.UnderlyingConn().Close()
				}
				_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _, err = ws.ReadMessage()
				errs <- err
			}))
			defer hs.Close()
			cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			raw := cl.UnderlyingConn()
			if tt.frame == nil {
				_ = raw.Close()
			} else {
				if _, err := raw.Write(tt.frame); err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
			}
			var got error
			select {
			case got = <-errs:
			case <-time.After(10 * time.Second):
				t.Fatal("the server's ReadMessage did not return")
			}
			if got == nil {
				t.Fatal("ReadMessage succeeded")
			}
			var ne net.Error
			if errors.As(got, &ne) && ne.Timeout() {
				t.Fatalf("ReadMessage timed out (%v): gorilla did not reject the frame", got)
			}
			if tt.check != nil && !tt.check(got) {
				t.Errorf("ReadMessage error %v (%T) is not of the kind expected", got, got)
			}
			if isProtocolError(got) != tt.want {
				t.Errorf("isProtocolError(%q) = %v, want %v", got, !tt.want, tt.want)
			}
			t.Logf("gorilla says: %v", got)
		})
	}
}
