package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestOutboxWindowThroughFlapsAndFailures: the outbox writes ahead of the
// answers (SendWindow 16) while its link is cut every 20–100 ms and the
// server's handler fails the first run of every seventh message
// (unavailable: a dependency was down). The room still gets every message
// exactly once, in the order of Send. Without the server holding back the
// sends after a refused one, a failed message would land after the ones
// written behind it.
func TestOutboxWindowThroughFlapsAndFailures(t *testing.T) {
	const total = 400
	var mu sync.Mutex
	failed := map[string]bool{}
	s := tethertest.NewServer(t, server.Config{MessageRate: -1}, func(ts *tethertest.Server) {
		srv := ts.Server
		server.Handle(srv, func(ctx context.Context, c *server.Conn, m testmsg.ChatSend) error {
			if !c.Joined(m.Room) {
				return &shared.Error{Code: shared.CodeNotJoined, Message: "join first"}
			}
			if n, _ := strconv.Atoi(strings.TrimPrefix(m.Text, "m")); n%7 == 0 {
				mu.Lock()
				first := !failed[m.Text]
				failed[m.Text] = true
				mu.Unlock()
				if first {
					return fmt.Errorf("chat store: %w", server.ErrUnavailable)
				}
			}
			_, _, err := srv.Publish(ctx, m.Room, testmsg.ChatMessage{Room: m.Room, User: c.User(), Text: m.Text})
			return err
		})
	})
	proxy := tethertest.NewCutProxy(t, s.Addr())
	watcher := tethertest.NewClient(t, client.Config{URL: s.URL("watcher")})
	rec := tethertest.RecordChat(watcher, total)
	sender := tethertest.NewClient(t, client.Config{URL: proxy.URL("sender"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	refused := make(chan shared.Error, total)
	client.On(sender, func(e shared.Error) { refused <- e })
	for _, c := range []*client.Client{watcher, sender} {
		tethertest.Run(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Join(ctx, "flaps", 0)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 17))
	stop := make(chan struct{})
	cutsDone := make(chan int)
	go func() {
		cuts := 0
		defer func() { cutsDone <- cuts }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+rng.IntN(80)) * time.Millisecond):
				proxy.Cut()
				cuts++
			}
		}
	}()
	tick := time.NewTicker(2 * time.Millisecond)
	maxQueued := 0
	for i := 1; i <= total; i++ {
		<-tick.C
		if err := sender.Send(context.Background(), testmsg.ChatSend{Room: "flaps", Text: fmt.Sprintf("m%04d", i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		maxQueued = max(maxQueued, sender.Outbox())
	}
	tick.Stop()
	close(stop)
	cuts := <-cutsDone
	got := rec.Wait(60 * time.Second)
	select {
	case e := <-refused:
		t.Fatalf("seed %d: a send reached the handlers as refused: %+v", seed, e)
	default:
	}
	texts := rec.Texts()
	if !got {
		t.Fatalf("seed %d: the room got %d of %d messages within 60s (%d cuts); outbox %d", seed, len(texts), total, cuts, sender.Outbox())
	}
	tethertest.CheckSequence(t, fmt.Sprintf("seed %d (%d cuts, %d connections)", seed, cuts, proxy.Accepted()), texts, "m%04d", total)
	t.Logf("seed %d: %d cuts, %d connections, at most %d waiting, %d messages once each in order, %d of them failed once", seed, cuts, proxy.Accepted(), maxQueued, total, len(failed))
}
