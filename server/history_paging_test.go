package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestHistoryRequest pages a room's history back over a real connection:
// refused before the join, the envelopes as published once joined, limits
// enforced, and nothing of it delivered as a live message.
func TestHistoryRequest(t *testing.T) {
	e := startServer(t, server.Config{Broker: tethertest.Memory(t, memory.Config{HistorySize: 10})})
	for i := range 25 {
		if _, _, err := e.srv.Publish(context.Background(), "lobby", testmsg.Notification{Title: fmt.Sprint("n", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	alice := e.dial("alice")

	id := alice.request(shared.History{Room: "lobby"})
	if got := expectReply[shared.Error](alice, id); got.Code != shared.CodeNotJoined {
		t.Fatalf("history before join: %+v, want not_joined", got)
	}
	alice.sendRaw(websocket.TextMessage, []byte(`{"type":"history","id":77,"data":{"room":"lobby","limit":101}}`))
	if got := expectReply[shared.Error](alice, 77); got.Code != shared.CodeBadData || got.Field != "data.limit" {
		t.Fatalf("limit 101: %+v, want bad_data on data.limit", got)
	}

	j := alice.join("lobby", 0)
	id = alice.request(shared.History{Room: "lobby", Limit: 4})
	page := expectReply[shared.History](alice, id)
	if page.Epoch != j.Epoch || page.Seq != 25 || !page.More || page.Dropped || len(page.Publications) != 4 {
		t.Fatalf("newest page: epoch %s seq %d more %v dropped %v %d publications; want epoch %s seq 25, more, 4",
			page.Epoch, page.Seq, page.More, page.Dropped, len(page.Publications), j.Epoch)
	}
	for i, raw := range page.Publications {
		env, err := shared.DecodeEnvelope(raw)
		if err != nil {
			t.Fatal(err)
		}
		n, err := shared.Unmarshal[testmsg.Notification](env)
		if want := uint64(22 + i); err != nil || env.Seq != want || env.Room != "lobby" || n.Title != fmt.Sprint("n", want) {
			t.Errorf("publication %d: %+v %+v (%v), want seq %d title n%d", i, env, n, err, want, want)
		}
	}

	// Paging on to the oldest kept message says the older ones were dropped.
	id = alice.request(shared.History{Room: "lobby", Before: 22, Limit: 100, Epoch: j.Epoch})
	page = expectReply[shared.History](alice, id)
	if len(page.Publications) != 6 || page.More || !page.Dropped {
		t.Fatalf("second page: %d publications more %v dropped %v, want 6 (16..21), dropped", len(page.Publications), page.More, page.Dropped)
	}

	// The history answers were the only traffic: the next message is live.
	seq, _, err := e.srv.Publish(context.Background(), "lobby", testmsg.Notification{Title: "live"})
	if err != nil {
		t.Fatal(err)
	}
	if got := expect[testmsg.Notification](alice); got.env.Seq != seq || got.msg.Title != "live" {
		t.Errorf("after the history pages got %+v seq %d, want the live message %d", got.msg, got.env.Seq, seq)
	}
}
