package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestKickWithBan: a kick with a ban closes the user's connections, and
// their handshakes are then refused before the upgrade with 403, code
// "banned" and the reason, until the ban is lifted; other users are not
// affected.
func TestKickWithBan(t *testing.T) {
	var srv *server.Server
	e := startServer(t, server.Config{}, func(s *server.Server) { srv = s })
	mallory := e.dial("mallory")
	e.dial("alice")

	closed, err := srv.Kick(context.Background(), "mallory", server.KickOptions{Reason: "spamming the lobby", Ban: 10 * time.Minute})
	if err != nil || closed != 1 {
		t.Fatalf("Kick = %d, %v; want 1 connection closed", closed, err)
	}
	waitFor[shared.Kicked](mallory, func(shared.Kicked, shared.Envelope) bool { return true })

	_, res, err := websocket.DefaultDialer.Dial(e.wsURL("mallory"), nil)
	if err == nil {
		t.Fatal("a banned user's handshake was accepted")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("banned handshake: %v (response %v), want HTTP 403", err, res)
	}
	var body shared.Error
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("banned handshake body: %v", err)
	}
	res.Body.Close()
	if body.Code != "banned" || !strings.Contains(body.Message, "spamming the lobby") {
		t.Fatalf("banned handshake says %+v, want code banned and the reason", body)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("banned handshake Retry-After = %q, want the seconds left", ra)
	}
	if until, reason, ok := srv.Banned("mallory"); !ok || reason != "spamming the lobby" || time.Until(until) <= 0 {
		t.Errorf("Banned = %v, %q, %v", until, reason, ok)
	}
	e.dial("alice") // others still get in

	if lifted, err := srv.Unban(context.Background(), "mallory"); !lifted || err != nil {
		t.Fatalf("Unban = %v, %v; want the ban lifted", lifted, err)
	}
	if lifted, err := srv.Unban(context.Background(), "mallory"); lifted || err != nil {
		t.Errorf("second Unban = %v, %v; want no ban in force", lifted, err)
	}
	e.dial("mallory")
}

// TestKickWithBanLimits: a ban must be positive and at most MaxBan; a ban of
// a user who is not online still applies.
func TestKickWithBanLimits(t *testing.T) {
	var srv *server.Server
	e := startServer(t, server.Config{}, func(s *server.Server) { srv = s })
	for _, d := range []time.Duration{-time.Second, server.MaxBan + time.Second} {
		if _, err := srv.Kick(context.Background(), "x", server.KickOptions{Ban: d}); err == nil {
			t.Errorf("Kick(ban %v) accepted", d)
		}
	}
	closed, err := srv.Kick(context.Background(), "ghost", server.KickOptions{Reason: "pre-emptive", Ban: time.Hour})
	if err != nil || closed != 0 {
		t.Fatalf("Kick(offline user) = %d, %v", closed, err)
	}
	if _, res, err := websocket.DefaultDialer.Dial(e.wsURL("ghost"), nil); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("handshake of a user banned while offline: %v, %v; want 403", err, res)
	}
	if n, err := srv.Kick(context.Background(), "nobody", server.KickOptions{Reason: "r"}); err != nil || n != 0 {
		t.Fatalf("kick without ban of nobody = %d, %v", n, err)
	}
	if _, _, ok := srv.Banned("nobody"); ok {
		t.Fatal("a kick without a ban banned the user")
	}
}
