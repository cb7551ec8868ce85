package client

import (
	"testing"
	"time"
)

// TestRefusal: the plain GET after a failed browser handshake
// (handshake_js.go) turns the server's answer into the same
// *HandshakeError the native transport returns, and anything but a
// refusal into nil.
func TestRefusal(t *testing.T) {
	for _, tt := range []struct {
		status     int
		body       string
		retryAfter string
		want       *HandshakeError // nil: not a refusal
	}{
		{401, `{"code":"unauthorized","message":"token expired"}`, "", &HandshakeError{Status: 401, Code: "unauthorized", Message: "token expired"}},
		{403, `{"code":"banned","message":"spamming"}`, "600", &HandshakeError{Status: 403, Code: "banned", Message: "spamming", RetryAfter: 10 * time.Minute}},
		{429, `not json`, "2", &HandshakeError{Status: 429, RetryAfter: 2 * time.Second}},
		{503, ``, "-1", &HandshakeError{Status: 503}},
		{400, `{"code":"bad_request"}`, "", nil}, // a plain GET of a WebSocket endpoint
		{200, ``, "", nil},
		{502, ``, "", nil}, // a proxy's answer, not the server's refusal
	} {
		got := refusal(tt.status, []byte(tt.body), tt.retryAfter)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("refusal(%d, %q) = %+v, want nil", tt.status, tt.body, got)
		case tt.want != nil && (got == nil || *got != *tt.want):
			t.Errorf("refusal(%d, %q, %q) = %+v, want %+v", tt.status, tt.body, tt.retryAfter, got, tt.want)
		}
	}
}
