package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// result is what one window's run measured.
type result struct {
	window         int
	sends          int
	issued         time.Duration // first Send to last Send
	drained        time.Duration // last Send to the room's last message; <0: did not drain
	got, dup, late int           // messages received, received again, received out of order
	refused        int           // sends the server refused for good
	cuts, conns    int
}

// ok reports whether the room got every message once, in order.
func (r result) ok() bool {
	return r.drained >= 0 && r.got == r.sends && r.dup == 0 && r.late == 0 && r.refused == 0
}

func (r result) String() string {
	drain := fmt.Sprintf("drained %.1fs after the last", r.drained.Seconds())
	if r.drained < 0 {
		drain = "did NOT drain"
	}
	order := "once each, in order"
	if r.dup > 0 || r.late > 0 || r.refused > 0 {
		order = fmt.Sprintf("%d repeated, %d out of order, %d refused", r.dup, r.late, r.refused)
	}
	return fmt.Sprintf("window %2d: %d sends issued in %.1fs; %s; %d of %d received %s; %d cuts, %d connections",
		r.window, r.sends, r.issued.Seconds(), drain, r.got, r.sends, order, r.cuts, r.conns)
}

// measure runs the scenario with SendWindow window in a room of its own.
func measure(ctx context.Context, o options, window int, stderr io.Writer) (result, error) {
	res := result{window: window, sends: o.sends, drained: -1}
	proxy, err := newFlapProxy(o.url.Host, o.delay)
	if err != nil {
		return res, fmt.Errorf("proxy: %w", err)
	}
	defer proxy.Close()

	id := make([]byte, 4)
	_, _ = rand.Read(id) // never fails
	run := hex.EncodeToString(id)
	room := fmt.Sprintf("flap-%s-w%d", run, window)
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	reg := msg.NewRegistry()
	wt, err := transportFor(ctx, o.url, o.token, "flapwatch")
	if err != nil {
		return res, err
	}
	st, err := transportFor(ctx, o.url, o.token, "flapsend")
	if err != nil {
		return res, err
	}
	watcher, err := client.New(client.Config{URL: userURL(o.url, "", "flapwatch-"+run), Transport: wt, Registry: reg, Logger: logger})
	if err != nil {
		return res, err
	}
	sender, err := client.New(client.Config{URL: userURL(o.url, proxy.Addr(), "flapsend-"+run), Transport: st, Registry: reg, Logger: logger,
		SendWindow: window})
	if err != nil {
		return res, err
	}

	var mu sync.Mutex
	next := 1 // the number of the message the room should get next
	seen := map[int]bool{}
	all := make(chan struct{})
	client.On(watcher, func(m msg.ChatMessage) {
		var n int
		if _, err := fmt.Sscanf(m.Text, "m%d", &n); err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case seen[n]:
			res.dup++
		case n != next:
			res.late++
		}
		seen[n] = true
		if n >= next {
			next = n + 1
		}
		res.got = len(seen)
		if len(seen) == o.sends {
			close(all)
		}
	})
	var refused sync.Map
	client.On(sender, func(e shared.Error) { refused.Store(e.Code+" "+e.Message, true) })

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range []*client.Client{watcher, sender} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(rctx) }()
	}
	defer wg.Wait()
	defer cancel()
	for _, c := range []*client.Client{watcher, sender} {
		jctx, jcancel := context.WithTimeout(rctx, 10*time.Second)
		_, err := c.Join(jctx, room, 0)
		jcancel()
		if err != nil {
			return res, fmt.Errorf("join %q: %w", room, err)
		}
	}

	proxy.flap(o.cutMin, o.cutMax, mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(window))))
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	start := time.Now()
	for i := 1; i <= o.sends; i++ {
		select {
		case <-tick.C:
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		}
		if err := sender.Send(ctx, msg.ChatSend{Room: room, Text: fmt.Sprintf("m%05d", i)}); err != nil {
			tick.Stop()
			return res, fmt.Errorf("send %d: %w", i, err)
		}
	}
	tick.Stop()
	last := time.Now()
	res.issued = last.Sub(start)
	timer := time.NewTimer(o.wait)
	defer timer.Stop()
	select {
	case <-all:
		res.drained = time.Since(last)
	case <-timer.C:
	case <-ctx.Done():
	}
	res.cuts, res.conns = proxy.stopFlapping()
	refused.Range(func(k, _ any) bool {
		res.refused++
		fmt.Fprintf(stderr, "tether-flap: window %d: the server refused a send: %s\n", window, k)
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

// userURL is base with its host replaced by host (unless empty) and the
// development login's user.
func userURL(base *url.URL, host, user string) string {
	u := *base
	if host != "" {
		u.Host = host
	}
	q := u.Query()
	q.Set("user", user)
	u.RawQuery = q.Encode()
	return u.String()
}
