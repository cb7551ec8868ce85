// Command tether-load puts a running Tether server under load and measures
// it. It connects -clients WebSocket clients (raw gorilla/websocket
// connections, one user each), spreads them over -rooms rooms, and for
// -duration has them send chat.send messages of -size bytes at -rate messages
// per second in total (-publishers N: only the first N members of each room
// send, e.g. 1 for one publisher per room). The server's chat handler (the demo's, in
// cmd/tether) publishes each one to its room as chat.message, so every send
// reaches every member of the sender's room, the sender included.
//
// Each text carries its send time, so the latency printed is send → receive
// as each member saw it: the client's write, the server's handler and
// publish, the fan-out and the network. Throughput is chat.send sent and
// chat.message received per second. The run is bounded: connecting gives up
// after -duration, sending stops after -duration, and in-flight messages are
// awaited for at most 3 s more. Ctrl-C stops it early, still printing the
// figures so far.
//
// Example, against the demo server listening on 127.0.0.1:8080:
//
//	go run ./cmd/tether &
//	go run ./cmd/tether-load -url ws://127.0.0.1:8080/ws -clients 1000 -rooms 10 -rate 200 -duration 10s -size 100
//
// which prints something like:
//
//	connected 1000 of 1000 clients in 412ms (10 rooms of 100)
//	sent      2000 chat.send in 10s: 200.0/s
//	received  200000 of 200000 chat.message expected (100.00%): 20000/s
//	latency   p50 1.9ms  p90 3.1ms  p99 6.2ms  max 14.8ms
//
// The server limits connections per client IP (256 by default), connections
// per user and messages per connection per second (50 by default): refused
// handshakes are counted and summarised, and the tool warns when -rate
// divided by -clients exceeds the default message rate. To open more than
// 256 connections to a server on loopback, connect from several loopback
// addresses in turn (all of 127.0.0.0/8 is loopback on Linux):
//
//	go run ./cmd/tether-load -clients 1000 -source 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4
//
// With -idle, the clients connect and join, send nothing, and after -idle
// the tool prints the server's memory per connection (make bench-idle):
//
//	go run ./cmd/tether-load -clients 15000 -rooms 150 -idle 30s -server-pid $PID -debug-url http://127.0.0.1:6060
//
// Against the nodes of a cluster (docs/cluster.md), give -url several
// endpoints, comma-separated: client i connects to the (i mod n)th.
// .ci/bench-cluster compares one node with a 3-node cluster this way.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/loadtool"
)

func main() { loadtool.Main("tether-load", run) }

// options are the command's settings.
type options struct {
	url      string        // the server's WebSocket endpoint
	clients  int           // connections to open
	rooms    int           // rooms to spread them over
	rate     float64       // chat.send per second, all clients together
	duration time.Duration // how long to send
	size     int           // bytes of chat text
	dialers  int           // handshakes under way at once
	sources  []net.IP      // local addresses to connect from, in turn; none: the system's choice
	pubs     int           // members of each room that send; 0: every member
	token    string        // bearer token for every handshake; "": none
	idle     time.Duration // >0: hold the connections idle this long and measure the server instead of sending
	probe    probe         // how to read the server's memory (-server-pid, -debug-url)
}

// defaultMessageRate is the server's default per-connection message rate
// (server.DefaultMessageRate), for the warning about -rate.
const defaultMessageRate = 50

// parseOptions reads and checks the flags.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := loadtool.NewFlagSet("tether-load", "Connects clients to a Tether server, has them chat, and prints throughput and latency.", stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "the server's WebSocket endpoint; each client adds its own ?user=. Several, comma-separated (the nodes of a cluster): client i connects to the (i mod n)th")
	fs.IntVar(&o.clients, "clients", 100, "WebSocket connections to open, one user each")
	fs.IntVar(&o.rooms, "rooms", 10, "rooms to spread the clients over (client i joins room i mod rooms)")
	fs.Float64Var(&o.rate, "rate", 100, "chat.send messages per second, all clients together")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send; also the longest the connecting may take")
	fs.IntVar(&o.size, "size", 100, fmt.Sprintf("bytes of chat text per message (%d to %d)", minSize, msg.MaxTextLen))
	fs.StringVar(&o.token, "token", "", "token sent as Authorization: Bearer on every handshake, for a server that requires one (cmd/tether: POST /auth/guest returns one; all clients are then one user, so start it with -max-conns-user -1)")
	fs.IntVar(&o.pubs, "publishers", 0, "members of each room that send, in turn (0: every member); e.g. 1 for one publisher per room")
	fs.IntVar(&o.dialers, "dialers", 32, "WebSocket handshakes under way at once")
	fs.DurationVar(&o.idle, "idle", 0, "instead of sending: hold the connections idle this long, then print the server's memory per connection (with -server-pid and/or -debug-url)")
	fs.IntVar(&o.probe.pid, "server-pid", 0, "with -idle: the server's process id, to read its RSS from /proc (same machine)")
	fs.StringVar(&o.probe.debug, "debug-url", "", "with -idle: the server's pprof endpoint (cmd/tether -debug-addr), e.g. http://127.0.0.1:6060, for goroutines, heap and stacks")
	sources := fs.String("source", "", "comma-separated local IP addresses to connect from, in turn, e.g. 127.0.0.1,127.0.0.2 (default: the system's choice)")
	if err := loadtool.Parse(fs, args); err != nil {
		return options{}, err
	}
	for _, s := range strings.FieldsFunc(*sources, func(r rune) bool { return r == ',' || r == ' ' }) {
		ip := net.ParseIP(s)
		if ip == nil {
			return options{}, fmt.Errorf("-source: %q is not an IP address", s)
		}
		o.sources = append(o.sources, ip)
	}
	if err := o.check(); err != nil {
		return options{}, err
	}
	return o, nil
}

// check reports the first setting that is out of range.
func (o options) check() error {
	urls := urlList(o.url)
	if len(urls) == 0 {
		return fmt.Errorf("-url %q: want a ws:// or wss:// URL", o.url)
	}
	for _, raw := range urls {
		if _, err := loadtool.WebSocketURL("url", raw); err != nil {
			return err
		}
	}
	switch {
	case o.clients < 1:
		return fmt.Errorf("-clients %d: want at least 1", o.clients)
	case o.rooms < 1 || o.rooms > o.clients:
		return fmt.Errorf("-rooms %d: want 1 to -clients (%d)", o.rooms, o.clients)
	case o.pubs < 0 || o.pubs*o.rooms > o.clients:
		return fmt.Errorf("-publishers %d: want 0 to -clients/-rooms (%d)", o.pubs, o.clients/o.rooms)
	case !(o.rate > 0): // also refuses NaN
		return fmt.Errorf("-rate %v: want more than 0 messages per second", o.rate)
	case o.duration <= 0:
		return fmt.Errorf("-duration %v: want more than 0", o.duration)
	case o.size < minSize || o.size > msg.MaxTextLen:
		return fmt.Errorf("-size %d: want %d to %d bytes", o.size, minSize, msg.MaxTextLen)
	case o.dialers < 1:
		return fmt.Errorf("-dialers %d: want at least 1", o.dialers)
	case o.idle < 0:
		return fmt.Errorf("-idle %v: want 0 (send) or more", o.idle)
	case o.idle > 0 && o.probe.pid == 0 && o.probe.debug == "":
		return fmt.Errorf("-idle measures the server: give -server-pid, -debug-url or both")
	case o.probe.pid < 0:
		return fmt.Errorf("-server-pid %d: want a process id", o.probe.pid)
	}
	return nil
}

// urlList splits -url at commas.
func urlList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// run parses args, runs the load and prints the report on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if perClient := o.rate / float64(o.clients); perClient > defaultMessageRate {
		fmt.Fprintf(stderr, "tether-load: warning: %.0f messages/s per client exceeds the server's default rate limit of %d/s; expect rate_limited errors\n",
			perClient, defaultMessageRate)
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id) // never fails
	r, err := newLoad(o, hex.EncodeToString(id))
	if err != nil {
		return err
	}
	if o.idle > 0 {
		return r.runIdle(ctx, stdout)
	}
	rep := r.run(ctx)
	rep.print(stdout)
	if rep.connected == 0 {
		return errors.New("no client could connect")
	}
	return nil
}

// roomName is the name of room i.
func roomName(i int) string { return fmt.Sprintf("load-%d", i) }

// clientURL is base with the user id of client i of run id.
func clientURL(base *url.URL, id string, i int) string {
	u := *base
	q := u.Query()
	q.Set("user", fmt.Sprintf("load-%s-%d", id, i))
	u.RawQuery = q.Encode()
	return u.String()
}

// summarise renders counts by reason, most frequent first, at most max.
func summarise(counts map[string]int, limit int) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range counts {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.k, b.k)) })
	var b strings.Builder
	for i, e := range all {
		if i == limit {
			fmt.Fprintf(&b, "; …")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d× %s", e.n, e.k)
	}
	return b.String()
}
