package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// lastSymbols decodes a last message's quotes as "SYM@price#seq".
func lastSymbols(t *testing.T, l shared.Last) string {
	t.Helper()
	var out []string
	for _, raw := range l.Publications {
		q, env, err := shared.UnmarshalFrame[testmsg.TickerQuote](raw)
		if err != nil {
			t.Fatalf("last value %s: %v", raw, err)
		}
		if env.Room != l.Room {
			t.Errorf("last value of room %q in the last message of %q", env.Room, l.Room)
		}
		out = append(out, fmt.Sprintf("%s@%g#%d", q.Symbol, q.Price, env.Seq))
	}
	return strings.Join(out, " ")
}

func TestLastValuesOnJoin(t *testing.T) {
	mb := memory.New(memory.Config{HistorySize: 2}) // the history forgets the early quotes; the last values do not
	t.Cleanup(func() { _ = mb.Close() })
	e := startServer(t, server.Config{
		Broker:     mb,
		LastValues: []server.LastValue{{Rooms: "tick*", Type: "ticker.quote", Key: "symbol"}},
	})
	publish := func(sym string, price float64) {
		t.Helper()
		if _, _, err := e.srv.Publish(context.Background(), "ticker", testmsg.TickerQuote{Symbol: sym, Price: price}); err != nil {
			t.Fatal(err)
		}
	}
	publish("BTC", 1) // 1
	publish("ETH", 2) // 2
	publish("BTC", 3) // 3
	publish("SOL", 4) // 4
	publish("ETH", 5) // 5

	// A fresh join without history: every symbol's last quote, as state.
	tc := e.dial("alice")
	j := tc.join("ticker", 0)
	if j.Last != 3 || j.Replayed != 0 || j.Seq != 5 {
		t.Fatalf("joined %+v: want last=3 replayed=0 seq=5", j)
	}
	l := expect[shared.Last](tc)
	if got, want := lastSymbols(t, l.msg), "BTC@3#3 SOL@4#4 ETH@5#5"; got != want {
		t.Errorf("last values %q, want %q (newest per symbol, oldest first)", got, want)
	}
	if l.env.Seq != 0 || l.env.Room != "ticker" {
		t.Errorf("the last message's envelope %+v: want room ticker and no seq", l.env)
	}
	publish("SOL", 6)
	if q := expect[testmsg.TickerQuote](tc); q.env.Seq != 6 {
		t.Errorf("live after the last values: seq %d, want 6", q.env.Seq)
	}

	// A join with history: what the replay carries is not in last.
	tc2 := e.dial("bob")
	j = tc2.join("ticker", 2)
	if j.Replayed != 2 || j.Last != 1 {
		t.Fatalf("joined %+v: want replayed=2 (ETH 5, SOL 6) and last=1 (BTC: ETH's and SOL's newest are in the replay)", j)
	}
	if got, want := lastSymbols(t, expect[shared.Last](tc2).msg), "BTC@3#3"; got != want {
		t.Errorf("last values %q, want %q", got, want)
	}
	for _, seq := range []uint64{5, 6} {
		if q := expect[testmsg.TickerQuote](tc2); q.env.Seq != seq {
			t.Errorf("replay seq %d, want %d", q.env.Seq, seq)
		}
	}

	// A successful resume gets no last message: exactly what was missed.
	tc.close()
	publish("BTC", 7)
	tc3 := e.dial("alice")
	since := uint64(6)
	id := tc3.request(shared.Join{Room: "ticker", Since: &since, Epoch: j.Epoch})
	j = expectReply[shared.Joined](tc3, id)
	if !j.Recovered || j.Replayed != 1 || j.Last != 0 {
		t.Fatalf("resume: %+v, want recovered with 1 replayed and no last", j)
	}
	if q := expect[testmsg.TickerQuote](tc3); q.env.Seq != 7 {
		t.Errorf("the replay is seq %d, want 7", q.env.Seq)
	}

	// A room without a rule gets no last message.
	if j := tc3.join("lobby", 0); j.Last != 0 {
		t.Errorf("joined lobby %+v: want no last", j)
	}
}

func TestLastValuesConfig(t *testing.T) {
	for _, tc := range []struct {
		lv   server.LastValue
		want string // "" when valid
	}{
		{server.LastValue{Rooms: "ticker", Type: "ticker.quote", Key: "symbol"}, ""},
		{server.LastValue{Rooms: "poll.*", Type: "ticker.quote"}, ""},
		{server.LastValue{Type: "ticker.quote"}, "LastValues[0]: the Rooms pattern is empty"},
		{server.LastValue{Rooms: "[", Type: "ticker.quote"}, "LastValues[0]: the Rooms pattern \"[\" is not valid"},
		{server.LastValue{Rooms: "ticker", Type: "Bad Type"}, "LastValues[0]: the Type \"Bad Type\""},
	} {
		s, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity, LastValues: []server.LastValue{tc.lv}})
		if err == nil {
			_ = s.Shutdown(context.Background())
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v refused: %v", tc.lv, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error with %q", tc.lv, err, tc.want)
		}
	}
}
