package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"golang.org/x/time/rate"
)

// options are the server's settings, from flags with TETHER_* environment
// fallbacks.
type options struct {
	addr             string
	webDir           string
	heartbeat        time.Duration
	heartbeatTimeout time.Duration
	appPing          time.Duration
	history          int
	historyTTL       time.Duration
	historyBytes     int64 // per room; -1: no byte bound
	historyMemory    int64 // all rooms; -1: no budget
	maxRoomsConn     int   // -1: unlimited
	logLevel         slog.Level

	secret      string
	tokenTTL    time.Duration
	guest       bool
	guestSet    bool
	origins     []string
	proxies     trustedProxies
	readLimit   int64
	msgRate     float64
	msgBurst    int
	maxConnUser int
	maxConnIP   int
	sendQueue   int
	compression bool

	debugAddr       string
	httpReadTimeout time.Duration
	httpIdleTimeout time.Duration
	maxHTTPConnIP   int

	apiKeys  []string
	apiRate  float64
	apiBurst int
	ticker   time.Duration

	nats    string // "", a NATS URL, or "embedded"
	node    string // this node's name in a cluster; "" → random
	dataDir string // state: the signing secret, embedded JetStream; "" → none
}

// serveUsage is printed by "tether -h".
const serveUsage = `usage: tether [flags]            run the server
       tether push|kick|presence|connections|stats [flags]   call a running server's HTTP API
       tether token --user ID [--name NAME] [--ttl 24h]      print a connection token (needs -secret/TETHER_SECRET)

Every flag has an environment variable fallback, shown in brackets.
Durations need their unit: 500ms, 30s, 5m, 12h (a negative one: -ticker -1s).
`

// parseOptions reads the flags, falling back to the TETHER_* environment
// variables, then to the defaults.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("tether", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	str := func(name, envName, def, usage string) *string {
		return fs.String(name, env(envName, def), usage+" ["+envName+"]")
	}
	fs.StringVar(&o.addr, "addr", env("TETHER_ADDR", "127.0.0.1:8080"), "listen address [TETHER_ADDR]")
	fs.StringVar(&o.webDir, "web-dir", env("TETHER_WEB_DIR", ""), "directory of the built web app (make build); empty → no web app [TETHER_WEB_DIR]")
	heartbeat := str("heartbeat", "TETHER_HEARTBEAT", server.DefaultHeartbeat.String(), "WebSocket ping interval")
	heartbeatTimeout := str("heartbeat-timeout", "TETHER_HEARTBEAT_TIMEOUT", "0", "close a connection silent this long; 0 → 2*heartbeat+5s")
	appPing := str("app-ping", "TETHER_APP_PING", server.DefaultAppPing.String(), "application ping interval for browser clients: a frozen page leaves within 2× this (docs/protocol.md §6); negative → off")
	history := str("history", "TETHER_HISTORY", strconv.Itoa(memory.DefaultHistorySize), "messages kept per room for resume; 0 → none")
	historyTTL := str("history-ttl", "TETHER_HISTORY_TTL", "2m", "how long room messages are kept for resume (a duration with its unit, e.g. 90s)")
	historyBytes := str("history-bytes", "TETHER_HISTORY_BYTES", "1MiB", "history bytes kept per room (with a unit: B, KiB, MiB, GiB); the oldest messages go first; 0 → no byte bound")
	historyMemory := str("history-memory", "TETHER_HISTORY_MEMORY", "256MiB", "history bytes of all rooms together; over it the rooms idle longest lose their history first (docs/protocol.md §7); in cluster mode the NATS stream's byte limit; 0 → no budget")
	maxRoomsConn := str("max-rooms-conn", "TETHER_MAX_ROOMS_CONN", strconv.Itoa(server.DefaultMaxRoomsPerConn), "rooms one connection may have joined at once (over → error too_many_rooms); 0 → unlimited")
	logLevel := str("log-level", "TETHER_LOG_LEVEL", "info", "debug, info, warn or error")
	fs.StringVar(&o.secret, "secret", env("TETHER_SECRET", ""), "token signing secret, at least 32 bytes; empty → one generated and kept in -data-dir (random per process without a data dir: tokens die with it) [TETHER_SECRET]")
	tokenTTL := str("token-ttl", "TETHER_TOKEN_TTL", "12h", "lifetime of issued connection tokens, at least 1m; clients refresh in-band before expiry, else the connection is closed with 1008")
	guest := str("guest", "TETHER_GUEST", "", "allow guest login (true/false); default: on without -secret, off with one")
	origins := str("origins", "TETHER_ORIGINS", "", "comma-separated origins allowed to open WebSockets, e.g. https://app.example; empty → same origin only")
	proxies := str("trusted-proxies", "TETHER_TRUSTED_PROXIES", "", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client (for -max-conns-ip)")
	readLimit := str("read-limit", "TETHER_READ_LIMIT", strconv.Itoa(server.DefaultReadLimit), "largest client message in bytes (over → close 1009)")
	msgRate := str("msg-rate", "TETHER_MSG_RATE", fmt.Sprint(float64(server.DefaultMessageRate)), "messages per second per connection; negative → unlimited")
	msgBurst := str("msg-burst", "TETHER_MSG_BURST", strconv.Itoa(server.DefaultMessageBurst), "message burst per connection")
	maxConnUser := str("max-conns-user", "TETHER_MAX_CONNS_USER", strconv.Itoa(server.DefaultMaxConnsPerUser), "connections per user; negative → unlimited")
	maxConnIP := str("max-conns-ip", "TETHER_MAX_CONNS_IP", strconv.Itoa(server.DefaultMaxConnsPerIP), "connections per client IP; negative → unlimited")
	sendQueue := str("send-queue", "TETHER_SEND_QUEUE", strconv.Itoa(server.DefaultSendQueue), "per-connection send queue; overflow → close 4002")
	httpRead := str("http-read-timeout", "TETHER_HTTP_READ_TIMEOUT", server.DefaultHTTPReadTimeout.String(), "time to read a whole HTTP request other than a WebSocket upgrade, body included")
	httpIdle := str("http-idle-timeout", "TETHER_HTTP_IDLE_TIMEOUT", "60s", "close keep-alive HTTP connections idle this long")
	maxHTTPConnIP := str("max-http-conns-ip", "TETHER_MAX_HTTP_CONNS_IP", strconv.Itoa(server.DefaultMaxHTTPConnsPerIP), "open HTTP connections (not WebSockets) per peer address, trusted proxies exempt; negative → unlimited")
	compression := str("compression", "TETHER_COMPRESSION", "false", "negotiate permessage-deflate (decompressed size still bounded by -read-limit)")
	apiKeys := str("api-keys", "TETHER_API_KEYS", "", "comma-separated HTTP API keys (16+ chars); empty → API open (local demo only)")
	apiRate := str("api-rate", "TETHER_API_RATE", fmt.Sprint(float64(api.DefaultRate)), "HTTP API requests per second per key")
	apiBurst := str("api-burst", "TETHER_API_BURST", strconv.Itoa(api.DefaultBurst), "HTTP API burst per key")
	fs.StringVar(&o.debugAddr, "debug-addr", env("TETHER_DEBUG_ADDR", ""), "serve net/http/pprof at http://ADDR/debug/pprof/ on this loopback address, e.g. 127.0.0.1:6060; empty → off [TETHER_DEBUG_ADDR]")
	ticker := str("ticker", "TETHER_TICKER", backend.DefaultTickerInterval.String(), "demo ticker interval; negative → no ticker feed")
	fs.StringVar(&o.nats, "nats", env("TETHER_NATS", ""), "cluster mode: a NATS URL (with JetStream) shared by every node, or \"embedded\" to run NATS in-process on -data-dir; empty → one node, rooms in memory [TETHER_NATS]")
	fs.StringVar(&o.node, "node", env("TETHER_NODE", ""), "this node's name in a cluster ([A-Za-z0-9_-]); empty → random [TETHER_NODE]")
	fs.StringVar(&o.dataDir, "data-dir", env("TETHER_DATA_DIR", defaultDataDir(getenv)), "directory for the generated signing secret and embedded NATS data, created 0700; empty → keep nothing [TETHER_DATA_DIR]")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	dur := func(name, s string, dst *time.Duration) {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s %q: want a duration with its unit, e.g. 30s, 5m or 12h (%w)", name, s, err))
		}
		*dst = d
	}
	num := func(name, s string, dst *int) {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %q is not an integer", name, s))
		}
		*dst = n
	}
	float := func(name, s string, dst *float64) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %q is not a number", name, s))
		}
		*dst = f
	}
	boolean := func(name, s string, dst *bool) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %q is not true or false", name, s))
		}
		*dst = b
	}
	dur("heartbeat", *heartbeat, &o.heartbeat)
	dur("heartbeat-timeout", *heartbeatTimeout, &o.heartbeatTimeout)
	dur("app-ping", *appPing, &o.appPing)
	dur("history-ttl", *historyTTL, &o.historyTTL)
	dur("ticker", *ticker, &o.ticker)
	dur("token-ttl", *tokenTTL, &o.tokenTTL)
	dur("http-read-timeout", *httpRead, &o.httpReadTimeout)
	dur("http-idle-timeout", *httpIdle, &o.httpIdleTimeout)
	num("max-http-conns-ip", *maxHTTPConnIP, &o.maxHTTPConnIP)
	num("history", *history, &o.history)
	if o.history == 0 {
		o.history = -1 // 0 means "none" here; the brokers' 0 means the default
	}
	size := func(name, s string, dst *int64) {
		n, err := parseSize(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", name, err))
		}
		if n == 0 {
			n = -1 // 0 means "no bound" here; the brokers' 0 means the default
		}
		*dst = n
	}
	size("history-bytes", *historyBytes, &o.historyBytes)
	size("history-memory", *historyMemory, &o.historyMemory)
	num("max-rooms-conn", *maxRoomsConn, &o.maxRoomsConn)
	if o.maxRoomsConn <= 0 {
		o.maxRoomsConn = -1
	}
	var rl int
	num("read-limit", *readLimit, &rl)
	o.readLimit = int64(rl)
	num("msg-burst", *msgBurst, &o.msgBurst)
	num("max-conns-user", *maxConnUser, &o.maxConnUser)
	num("max-conns-ip", *maxConnIP, &o.maxConnIP)
	num("send-queue", *sendQueue, &o.sendQueue)
	num("api-burst", *apiBurst, &o.apiBurst)
	float("msg-rate", *msgRate, &o.msgRate)
	float("api-rate", *apiRate, &o.apiRate)
	boolean("compression", *compression, &o.compression)
	if *guest != "" {
		o.guestSet = true
		boolean("guest", *guest, &o.guest)
	}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level: %w", err))
	}
	for _, origin := range splitList(*origins) {
		u, err := url.Parse(origin)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("-origins: %q is not an origin like https://app.example", origin))
			continue
		}
		o.origins = append(o.origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	o.apiKeys = splitList(*apiKeys)
	if p, err := parseTrustedProxies(splitList(*proxies)); err != nil {
		errs = append(errs, fmt.Errorf("-trusted-proxies: %w", err))
	} else {
		o.proxies = p
	}
	switch {
	case o.heartbeat <= 0:
		errs = append(errs, errors.New("-heartbeat must be positive"))
	case o.tokenTTL < time.Minute:
		errs = append(errs, errors.New("-token-ttl must be at least 1m"))
	case o.readLimit < 1024:
		errs = append(errs, errors.New("-read-limit must be at least 1024 bytes"))
	case o.httpReadTimeout <= 0 || o.httpIdleTimeout <= 0:
		errs = append(errs, errors.New("-http-read-timeout and -http-idle-timeout must be positive"))
	case o.sendQueue < 1:
		errs = append(errs, errors.New("-send-queue must be at least 1"))
	case o.secret != "" && len(o.secret) < 32:
		errs = append(errs, errors.New("-secret must be at least 32 bytes (try: head -c 48 /dev/urandom | base64)"))
	}
	if o.debugAddr != "" {
		if err := checkDebugAddr(o.debugAddr); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return options{}, err
	}
	return o, nil
}

// msgLimit is the server's message rate: negative means unlimited.
func (o options) msgLimit() rate.Limit {
	if o.msgRate < 0 {
		return -1
	}
	return rate.Limit(o.msgRate)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSize reads a byte size: a non-negative integer with an optional unit
// B, KiB, MiB or GiB ("1MiB", "65536").
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size like 1MiB, 512KiB or 65536", s)
	}
	return n * mult, nil
}
