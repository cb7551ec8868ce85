package natsbroker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/shared"
)

// TestAPIAnswersForTheCluster: node a's HTTP API sees and reaches the
// connections of node b: connections, stats, presence, pushes and kicks.
func TestAPIAnswersForTheCluster(t *testing.T) {
	_, nodes := startCluster(t, 2, natsbroker.Config{}, server.Config{})
	h, err := api.New(api.Config{Hub: nodes[0].srv, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	alice, bob := newClient(t, nodes[0], "alice"), newClient(t, nodes[1], "bob")
	notes := make(chan string, 4)
	client.On(bob, func(n testmsg.Notification) { notes <- n.Title })
	kicked := make(chan string, 1)
	client.On(bob, func(k shared.Kicked) { kicked <- k.Reason })
	tethertest.Run(t, alice)
	tethertest.Run(t, bob)
	join(t, alice, "lobby", 0)
	join(t, bob, "lobby", 0)

	var conns api.ConnectionsResponse
	get(t, ts.URL+"/api/connections", &conns)
	if conns.Total != 2 || conns.Nodes != 2 || conns.Partial || len(conns.Connections) != 2 ||
		conns.Connections[0].User != "alice" || conns.Connections[1].User != "bob" {
		t.Errorf("connections = %+v, want alice and bob from 2 nodes", conns)
	}
	var st api.StatsResponse
	get(t, ts.URL+"/api/stats", &st)
	if st.Connections != 2 || st.Users != 2 || st.Rooms != 1 || st.Nodes != 2 || st.Partial {
		t.Errorf("stats = %+v, want 2 connections, 2 users, 1 room, 2 nodes", st)
	}
	// Node a's view of the presence bucket catches up with bob's join.
	tethertest.WaitUntil(t, "node a's API lists alice and bob", func() bool {
		var pres api.PresenceResponse
		get(t, ts.URL+"/api/presence?room=lobby", &pres)
		return len(pres.Members) == 2
	})

	var pushed api.PushResponse
	post(t, ts.URL+"/api/push", `{"target":{"kind":"user","id":"bob"},"type":"notification","data":{"title":"hi bob"}}`, &pushed)
	if pushed.Delivered != 1 {
		t.Errorf("push to bob on node b through node a: delivered %d, want 1", pushed.Delivered)
	}
	if got := <-notes; got != "hi bob" {
		t.Errorf("bob got %q", got)
	}
	post(t, ts.URL+"/api/push", `{"target":{"kind":"all"},"type":"notification","data":{"title":"all"}}`, &pushed)
	if pushed.Delivered != 2 {
		t.Errorf("push to all: delivered %d, want 2", pushed.Delivered)
	}
	var kick api.KickResponse
	post(t, ts.URL+"/api/kick", `{"user":"bob","reason":"bye"}`, &kick)
	if got := <-kicked; got != "bye" {
		t.Errorf("bob's kick reason %q, want bye", got)
	}
	t.Logf("kick of bob through node a: %+v", kick)
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, url, body string, v any) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestPresenceUnavailableWithoutNATS: with NATS stopped a node cannot tell
// who is in a room: GET /api/presence answers 503 unavailable and a
// client's presence.list gets the error unavailable, never an empty list.
func TestPresenceUnavailableWithoutNATS(t *testing.T) {
	ns, nodes := startCluster(t, 1, natsbroker.Config{}, server.Config{})
	h, err := api.New(api.Config{Hub: nodes[0].srv, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	alice := newClient(t, nodes[0], "alice")
	tethertest.Run(t, alice)
	join(t, alice, "lobby", 0)
	var pres api.PresenceResponse
	get(t, ts.URL+"/api/presence?room=lobby", &pres)
	if len(pres.Members) != 1 || pres.Members[0].User != "alice" {
		t.Fatalf("presence with NATS up = %+v, want alice", pres.Members)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	tethertest.Poll(t, "GET /api/presence answers 503 unavailable with NATS down", func() error {
		res, err := http.Get(ts.URL + "/api/presence?room=lobby")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var body api.ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != http.StatusServiceUnavailable || body.Error.Code != shared.CodeUnavailable {
			return fmt.Errorf("answered %d %+v", res.StatusCode, body)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	_, err = client.Request[shared.PresenceList](ctx, alice, shared.PresenceList{Room: "lobby"})
	var e *shared.Error
	if !errors.As(err, &e) || e.Code != shared.CodeUnavailable {
		t.Fatalf("presence.list with NATS down: %v, want the error unavailable", err)
	}
}
