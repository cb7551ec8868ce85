//go:build js && wasm

package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// jsBannedUser is banned by TestBrowserTransportInNode's server before
// these tests run.
const jsBannedUser = "js-banned"

// TestBrowserHandshakeRefused: a handshake the server refuses comes back
// from BrowserTransport as the *HandshakeError a NativeTransport returns
// (found with the plain GET of docs/protocol.md §1), and Run ends with it at
// once, without a retry; a server that is not there stays a 1006.
func TestBrowserHandshakeRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var he *HandshakeError
	// No valid identity: "a b" is not a user id.
	bad := browserServer(t, "a%20b")
	if _, err := (BrowserTransport{}).Dial(ctx, bad); !errors.As(err, &he) || he.Status != 401 || he.Code != "unauthorized" || !he.Terminal() {
		t.Errorf("Dial with a bad identity = %v, want a terminal HandshakeError 401 unauthorized", err)
	}

	banned := browserServer(t, jsBannedUser)
	if _, err := (BrowserTransport{}).Dial(ctx, banned); !errors.As(err, &he) || he.Status != 403 || he.Code != "banned" ||
		!strings.Contains(he.Message, "spamming") || he.RetryAfter <= 0 {
		t.Errorf("Dial as a banned user = %v, want HandshakeError 403 banned with the reason and a RetryAfter", err)
	}

	var ce *CloseError
	if _, err := (BrowserTransport{}).Dial(ctx, "ws://127.0.0.1:1/ws"); errors.As(err, &he) || !errors.As(err, &ce) {
		t.Errorf("Dial to a closed port = %v, want a *CloseError and no HandshakeError", err)
	}

	// The core: Run ends at once with the refusal, after one dial.
	c := newClient(t, Config{URL: banned, MinBackoff: 10 * time.Millisecond})
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(context.Background()) }()
	select {
	case err := <-runDone:
		if !errors.As(err, &he) || he.Code != "banned" {
			t.Errorf("Run as a banned user = %v, want the banned HandshakeError", err)
		}
		if st := c.State(); st.State != Closed || !errors.As(st.Err, &he) {
			t.Errorf("state = %+v, want Closed with the HandshakeError", st)
		}
	case <-ctx.Done():
		t.Fatal("Run is still retrying a refused handshake after 10 s")
	}
}
