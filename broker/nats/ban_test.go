package natsbroker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestBanAcrossNodes: a kick with a ban taken by node a closes bob's
// connection on node b, and node b then refuses bob's handshakes with 403
// "banned" too: a banned user cannot come back through another node. An
// Unban through node b lifts the ban on both nodes.
func TestBanAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2, natsbroker.Config{}, server.Config{})
	bob := newClient(t, nodes[1], "bob")
	kicked := make(chan string, 1)
	client.On(bob, func(k shared.Kicked) { kicked <- k.Reason })
	tethertest.Run(t, bob)
	join(t, bob, "lobby", 0)

	n, err := nodes[0].srv.Kick(context.Background(), "bob", server.KickOptions{Reason: "spam", Ban: time.Hour})
	if err != nil || n != 1 {
		t.Fatalf("Kick through node a = %d, %v; want bob's 1 connection on node b", n, err)
	}
	select {
	case got := <-kicked:
		if got != "spam" {
			t.Errorf("bob's kick reason %q, want spam", got)
		}
	case <-time.After(waitTime):
		t.Fatal("bob was not kicked")
	}
	for _, nd := range nodes {
		_, res, err := websocket.DefaultDialer.Dial(nd.wsURL("bob"), nil)
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("node %s: bob's handshake during the ban: %v (%v), want 403", nd.name, err, res)
		}
		var body shared.Error
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if body.Code != "banned" || !strings.Contains(body.Message, "spam") {
			t.Errorf("node %s refuses bob with %+v, want code banned and the reason", nd.name, body)
		}
	}

	// Unban through node b: on both nodes bob's handshake succeeds again.
	lifted, err := nodes[1].srv.Unban(context.Background(), "bob")
	if err != nil || !lifted {
		t.Fatalf("Unban through node b = %v, %v; want the ban lifted", lifted, err)
	}
	for _, nd := range nodes {
		if _, _, ok := nd.srv.Banned("bob"); ok {
			t.Errorf("node %s still holds bob's ban after Unban through node b", nd.name)
		}
		ws, res, err := websocket.DefaultDialer.Dial(nd.wsURL("bob"), nil)
		if err != nil {
			t.Fatalf("node %s: bob's handshake after the unban: %v (%v)", nd.name, err, res)
		}
		ws.Close()
	}
}
