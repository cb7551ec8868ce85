//go:build !js

package client_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestGapReportedAndFilled: a subscriber is away while a room gets more
// messages than its history keeps. On rejoin the client reports the seqs
// it was not sent (OnGap), FillGap pages back the ones still kept, and says
// that the oldest are gone; History pages the room as the server keeps it.
func TestGapReportedAndFilled(t *testing.T) {
	s := startServer(t, server.Config{Broker: tethertest.Memory(t, memory.Config{HistorySize: 10})})
	gate := tethertest.NewCutProxy(t, strings.TrimPrefix(s.HTTP.URL, "http://"))
	sub := tethertest.NewClient(t, client.Config{URL: gate.URL("sub"), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	seen := make(chan uint64, 100)
	client.OnMeta(sub, func(_ testmsg.Notification, meta client.Meta) { seen <- meta.Seq })
	gaps := make(chan client.Gap, 4)
	sub.OnGap(func(g client.Gap) { gaps <- g })
	states := make(chan client.State, 100)
	sub.OnState(func(si client.StateInfo) {
		select {
		case states <- si.State:
		default:
		}
	})
	tethertest.Run(t, sub)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := sub.Join(ctx, "gap", 3); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, _, err := s.Server.Publish(context.Background(), "gap", testmsg.Notification{Title: fmt.Sprint("n", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSeq := func(want uint64) {
		t.Helper()
		for {
			select {
			case seq := <-seen:
				if seq == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("seq %d never arrived", want)
			}
		}
	}
	publish(1, 5)
	waitSeq(5)

	gate.Shut()
	for st := range states {
		if st != client.Open {
			break
		}
	}
	publish(6, 25) // the history keeps 16..25
	gate.Open()

	var g client.Gap
	select {
	case g = <-gaps:
	case <-ctx.Done():
		t.Fatal("no gap reported after the rejoin")
	}
	if g.Room != "gap" || g.From != 6 || g.To != 22 || g.EpochChanged {
		t.Fatalf("gap %+v, want 6..22 of the same epoch (23..25 replayed)", g)
	}
	waitSeq(25)

	pubs, dropped, err := client.FillGap(ctx, sub, g, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !dropped || len(pubs) != 7 {
		t.Fatalf("FillGap: %d publications, dropped %v; want 16..22 and dropped (6..15 are gone)", len(pubs), dropped)
	}
	for i, p := range pubs {
		n, ok := p.Message.(testmsg.Notification)
		if want := uint64(16 + i); !ok || p.Seq != want || p.Room != "gap" || n.Title != fmt.Sprint("n", want) {
			t.Errorf("filled %d: %+v, want seq %d notification n%d", i, p, want, want)
		}
	}

	page, err := client.History(ctx, sub, "gap", 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if page.Head != 25 || !page.More || page.Dropped || len(page.Publications) != 4 || page.Publications[0].Seq != 22 {
		t.Fatalf("History newest 4: %+v", page)
	}
	page, err = client.History(ctx, sub, "gap", 22, 0)
	if err != nil {
		t.Fatal(err)
	}
	if page.More || !page.Dropped || len(page.Publications) != 6 || page.Publications[0].Seq != 16 {
		t.Fatalf("History before 22: more %v dropped %v %d publications, want 16..21, dropped", page.More, page.Dropped, len(page.Publications))
	}
	if _, err := client.History(ctx, sub, "elsewhere", 0, 0); err == nil || !strings.Contains(err.Error(), shared.CodeNotJoined) {
		t.Fatalf("History of a room not joined: %v, want not_joined", err)
	}
	select {
	case seq := <-seen:
		t.Fatalf("a history page reached the handlers (seq %d)", seq)
	default:
	}
}
