// Command tether-flap measures how the Go client's outbox keeps up behind a
// flapping link (issue 17). It puts a TCP proxy of its own between a sender
// client and a running Tether server; the proxy delays every byte by
// -delay each way (a link's latency) and cuts every connection at random
// intervals of -cut (a reset, no close frame). The sender makes -sends
// chat.send at -rate per second with Client.Send; a watcher, connected to
// the server directly, receives the room's chat.message. For each outbox
// window in -windows (client.Config.SendWindow: 1 sends one message per
// round trip, the client before issue 17) it runs the same scenario in a
// room of its own and prints how long the sends took to issue, how long the
// room took to get the last one after the last Send (the drain), and
// whether the room got every message exactly once and in order.
//
// Example, against the demo server (cmd/tether, whose chat.send handler
// publishes chat.message) on 127.0.0.1:8080:
//
//	go run ./cmd/tether -addr 127.0.0.1:8080 &
//	go run ./cmd/tether-flap -url ws://127.0.0.1:8080/ws -sends 1000 -rate 40 -cut 300ms-2s -delay 25ms -windows 1,16
//
// which prints one line per window, e.g.
//
//	window  1: 1000 sends issued in 25.0s; drained 48.2s after the last; 1000 of 1000 once each, in order; 27 cuts, 28 connections
//	window 16: 1000 sends issued in 25.0s; drained 0.9s after the last; 1000 of 1000 once each, in order; 26 cuts, 27 connections
//
// A run gives up on a window -wait after its last Send. The exit status is
// 1 when a window lost, doubled or reordered a message or did not drain.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tetherkit/tether/internal/loadtool"
)

func main() { loadtool.Main("tether-flap", run) }

// options are the command's settings.
type options struct {
	url            *url.URL      // the server's WebSocket endpoint
	sends          int           // chat.send per window
	rate           float64       // chat.send per second
	cutMin, cutMax time.Duration // the interval between two cuts, drawn uniformly
	delay          time.Duration // added to every byte, each way
	windows        []int         // client.Config.SendWindow values, run in turn
	wait           time.Duration // the longest drain awaited
	verbose        bool          // the clients' logs on stderr
	token          string        // bearer token for both clients; "": a guest login of each
}

// parseOptions reads and checks the flags.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := loadtool.NewFlagSet("tether-flap", "Measures how the Go client's outbox drains behind a link that is cut every few hundred milliseconds.", stderr)
	rawURL := fs.String("url", "ws://127.0.0.1:8080/ws", "the server's WebSocket endpoint (the development login: each client adds ?user=)")
	fs.IntVar(&o.sends, "sends", 1000, "chat.send messages per window")
	fs.Float64Var(&o.rate, "rate", 40, "chat.send messages per second (at most the server's per-connection rate, 50 by default)")
	cut := fs.String("cut", "300ms-2s", "interval between two cuts of the link, drawn uniformly from MIN-MAX (or one duration)")
	fs.DurationVar(&o.delay, "delay", 25*time.Millisecond, "latency added to the link, each way")
	windows := fs.String("windows", "1,16", "comma-separated client.Config.SendWindow values to measure, in turn (1: one message per round trip)")
	fs.DurationVar(&o.wait, "wait", 2*time.Minute, "how long after the last send a window may take to drain before it counts as failed")
	fs.BoolVar(&o.verbose, "v", false, "print the clients' logs")
	fs.StringVar(&o.token, "token", "", "bearer token for both clients (default: each gets one from the server's guest login, POST /auth/guest; a server without one takes ?user=)")
	if err := loadtool.Parse(fs, args); err != nil {
		return options{}, err
	}
	u, err := loadtool.WebSocketURL("url", *rawURL)
	if err != nil {
		return options{}, err
	}
	o.url = u
	if o.cutMin, o.cutMax, err = parseSpan(*cut); err != nil {
		return options{}, fmt.Errorf("-cut %q: %w", *cut, err)
	}
	for _, w := range strings.Split(*windows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("-windows %q: want positive integers, comma-separated", *windows)
		}
		o.windows = append(o.windows, n)
	}
	switch {
	case o.sends < 1:
		return options{}, fmt.Errorf("-sends %d: want at least 1", o.sends)
	case !(o.rate > 0):
		return options{}, fmt.Errorf("-rate %v: want more than 0 messages per second", o.rate)
	case o.delay < 0:
		return options{}, fmt.Errorf("-delay %v: want 0 or more", o.delay)
	case o.wait <= 0:
		return options{}, fmt.Errorf("-wait %v: want more than 0", o.wait)
	}
	return o, nil
}

// parseSpan reads "MIN-MAX" or one duration.
func parseSpan(s string) (lo, hi time.Duration, err error) {
	a, b, found := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil {
		return 0, 0, err
	}
	hi = lo
	if found {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, err
		}
	}
	if lo <= 0 || hi < lo {
		return 0, 0, errors.New("want 0 < MIN <= MAX")
	}
	return lo, hi, nil
}

// run parses args, measures each window and prints one line for each.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d sends at %g/s per window; link cut every %v-%v, %v latency each way\n", o.sends, o.rate, o.cutMin, o.cutMax, o.delay)
	failed := 0
	for _, w := range o.windows {
		res, err := measure(ctx, o, w, stderr)
		if err != nil {
			return fmt.Errorf("window %d: %w", w, err)
		}
		fmt.Fprintln(stdout, res)
		if !res.ok() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d windows lost, doubled or reordered messages or did not drain", failed, len(o.windows))
	}
	return nil
}
