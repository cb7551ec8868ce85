package natsbroker_test

import (
	"context"
	"encoding/json"
	"errors"
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

// refused reports whether node nd refuses user's handshake as banned.
func refused(t *testing.T, nd *node, user string) bool {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(nd.wsURL(user), nil)
	if err == nil {
		ws.Close()
		return false
	}
	if res == nil {
		t.Fatalf("node %s: %s's handshake: %v", nd.name, user, err)
	}
	defer res.Body.Close()
	var body shared.Error
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode == http.StatusForbidden && body.Code == "banned"
}

// TestBansAreDurable is issue 17's durable bans in a cluster: a ban taken on
// node a is kept in the TETHER_BANS bucket, so node c, started after the
// kick, and node a, restarted, refuse the user too; the bans are listed on
// any node; an unban on any node lifts it on every node, and a node started
// after the unban does not know the ban.
func TestBansAreDurable(t *testing.T) {
	ns, nodes := startCluster(t, 2, natsbroker.Config{}, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if _, err := nodes[0].srv.Kick(ctx, "mallory", server.KickOptions{Reason: "spam", Ban: time.Hour}); err != nil {
		t.Fatal(err)
	}
	late := startNode(t, ns, "c", natsbroker.Config{}, server.Config{})
	if !refused(t, late, "mallory") {
		t.Fatal("node c, started after the kick, lets mallory in")
	}
	nodes[0].close()
	again := startNode(t, ns, "a", natsbroker.Config{}, server.Config{})
	if !refused(t, again, "mallory") {
		t.Fatal("node a, restarted, lets mallory in")
	}
	bans, err := late.srv.Bans(ctx)
	if err != nil || len(bans) != 1 || bans[0].User != "mallory" || bans[0].Reason != "spam" || time.Until(bans[0].Until) < 59*time.Minute {
		t.Fatalf("node c lists bans %+v, %v; want mallory's, for an hour, reason spam", bans, err)
	}
	if lifted, err := late.srv.Unban(ctx, "mallory"); err != nil || !lifted {
		t.Fatalf("Unban on node c = %v, %v; want true", lifted, err)
	}
	for _, nd := range []*node{nodes[1], late, again} {
		tethertest.Poll(t, "node "+nd.name+" lets mallory in after the unban", func() error {
			if refused(t, nd, "mallory") {
				return errors.New("still refused")
			}
			return nil
		})
	}
	if bans, err := again.srv.Bans(ctx); err != nil || len(bans) != 0 {
		t.Fatalf("bans after the unban: %+v, %v; want none", bans, err)
	}
	if refused(t, startNode(t, ns, "d", natsbroker.Config{}, server.Config{}), "mallory") {
		t.Fatal("node d, started after the unban, refuses mallory")
	}
}
