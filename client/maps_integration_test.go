//go:build !js

package client_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

type tally struct {
	Votes int `json:"votes"`
}

// TestMapWithServer: clients write a map through the application's
// handler with Update (conditional writes retried on conflict); a client
// that subscribes late gets the same map at once; every copy converges.
func TestMapWithServer(t *testing.T) {
	var poll *server.Map[string, tally]
	ts := tethertest.NewServer(t, server.Config{}, func(s *tethertest.Server) {
		var err error
		poll, err = server.NewMap[string, tally](context.Background(), s.Server, "poll", server.MapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		poll.OnWrite(func(ctx context.Context, w server.ClientWrite[string, tally]) (tally, error) {
			if w.Key != "yes" && w.Key != "no" {
				return tally{}, &shared.Error{Code: shared.CodeForbidden, Message: "vote yes or no"}
			}
			return w.Value, nil
		})
	})
	voters := make([]*client.Map[string, tally], 3)
	for i := range voters {
		c := ts.Client(t, "voter"+string(rune('a'+i)), client.Config{})
		m, err := client.NewMap[string, tally](c, "poll")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Subscribe(context.Background()); err != nil {
			t.Fatal(err)
		}
		voters[i] = m
	}
	var wg sync.WaitGroup
	for _, m := range voters {
		wg.Go(func() {
			for range 10 {
				if _, err := m.Update(context.Background(), "yes", func(old tally, _ bool) (tally, error) { return tally{old.Votes + 1}, nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var se *shared.Error
	if _, err := voters[0].Set(context.Background(), "maybe", tally{1}); !errors.As(err, &se) || se.Code != shared.CodeForbidden {
		t.Errorf("a write the handler refuses: %v, want forbidden", err)
	}

	late := ts.Client(t, "late", client.Config{})
	lm, _ := client.NewMap[string, tally](late, "poll")
	var changes []client.ChangeOp
	var mu sync.Mutex
	lm.OnChange(func(c client.Change[string, tally]) { mu.Lock(); changes = append(changes, c.Op); mu.Unlock() })
	if err := lm.Subscribe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := lm.Get("yes"); !ok || v.Votes != 30 {
		t.Fatalf("a late subscriber sees yes=%v (ok %v) right after Subscribe, want 30 votes", v, ok)
	}
	mu.Lock()
	if len(changes) != 1 || changes[0] != client.ChangeSnapshot {
		t.Errorf("the late subscriber's OnChange saw %v, want one snapshot", changes)
	}
	mu.Unlock()
	want := map[string]int{"yes": 30}
	for _, m := range append(voters, lm) {
		tethertest.WaitUntil(t, "every copy has 30 votes", func() bool {
			got := map[string]int{}
			for k, e := range m.All() {
				got[k] = e.Value.Votes
			}
			return maps.Equal(got, want)
		})
	}
}

// TestLastValuesWithServer: a Go client joining a room with last values
// gets them through its handlers, marked Last, before live messages.
func TestLastValuesWithServer(t *testing.T) {
	ts := tethertest.NewServer(t, server.Config{LastValues: []server.LastValue{{Rooms: "ticker", Type: "ticker.quote", Key: "symbol"}}})
	for _, sym := range []string{"BTC", "ETH", "BTC"} {
		if _, _, err := ts.Server.Publish(context.Background(), "ticker", testmsg.TickerQuote{Symbol: sym, Price: 1}); err != nil {
			t.Fatal(err)
		}
	}
	c := tethertest.NewClient(t, client.Config{URL: ts.URL("alice")})
	got := make(chan string, 8)
	client.OnMeta(c, func(q testmsg.TickerQuote, meta client.Meta) {
		if meta.Last {
			got <- q.Symbol + "(last)"
		} else {
			got <- q.Symbol
		}
	})
	tethertest.Run(t, c)
	j, err := c.Join(context.Background(), "ticker", 0)
	if err != nil || j.Last != 2 {
		t.Fatalf("join: %+v %v, want last=2", j, err)
	}
	if _, _, err := ts.Server.Publish(context.Background(), "ticker", testmsg.TickerQuote{Symbol: "SOL", Price: 1}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for range 3 {
		seen = append(seen, tethertest.Receive(t, got, "a quote"))
	}
	if seen[0] != "ETH(last)" || seen[1] != "BTC(last)" || seen[2] != "SOL" {
		t.Errorf("handlers saw %v, want ETH(last) BTC(last) SOL", seen)
	}
}
