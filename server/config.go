package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
	"golang.org/x/time/rate"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHeartbeat = 25 * time.Second
	// DefaultHeartbeatGrace is what a zero HeartbeatTimeout adds to two
	// Heartbeats.
	DefaultHeartbeatGrace = 5 * time.Second
	// DefaultAppPing is the application heartbeat offered to browser
	// clients (Config.AppPing).
	DefaultAppPing      = 10 * time.Second
	DefaultReadLimit    = 64 << 10
	DefaultSendQueue    = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxReplay    = 1000

	DefaultMaxRoomsPerConn = 100
	DefaultIdempotencyTTL  = 5 * time.Minute

	DefaultMessageRate       rate.Limit = 50
	DefaultMessageBurst                 = 100
	DefaultMaxConnsPerUser              = 16
	DefaultMaxConnsPerIP                = 256
	DefaultHandshakeTimeout             = 10 * time.Second
	DefaultHTTPReadTimeout              = 30 * time.Second
	DefaultHTTPIdleTimeout              = 60 * time.Second
	DefaultMaxHTTPConnsPerIP            = 64
)

// RateLimitWindow is the window of the rate limit's abuse rule: a connection
// that has more than Config.MessageBurst messages refused within this long
// (counted from the first refusal of the window) is closed with 1008.
const RateLimitWindow = 10 * time.Second

// MaxUserLen and MaxNameLen bound the identity carried by a handshake.
const (
	MaxUserLen = 64
	MaxNameLen = 64
)

// Identity is who a connection belongs to, as established by
// Config.Authenticate before the WebSocket upgrade.
type Identity struct {
	// User is the stable user id: 1–64 characters of [A-Za-z0-9._-].
	User string
	// Name is the display name; empty means the user id.
	Name string
	// Expires is when the identity (e.g. the token it came from) stops being
	// valid; zero means never. A handshake whose identity has already expired
	// is refused with HTTP 401; an open connection is closed with 1008 "token
	// expired" when its identity expires, and the client reconnects with a
	// fresh token.
	Expires time.Time
}

// Config configures a Server. The zero value is usable: every zero field has
// the default documented on it, written "Zero means …" (nil, empty and false
// likewise), and every default is an exported Default constant. New refuses
// a value that has no meaning (a negative timeout, say) with an error
// instead of replacing it.
type Config struct {
	// Registry knows the message types. Nil means shared.NewRegistry().
	Registry *shared.Registry
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Heartbeat is the WebSocket ping interval. Zero means 25s
	// (DefaultHeartbeat).
	Heartbeat time.Duration
	// HeartbeatTimeout closes a connection (code 4003) from which nothing was
	// received this long. Zero means 2*Heartbeat + 5s
	// (DefaultHeartbeatGrace).
	HeartbeatTimeout time.Duration
	// AppPing is the application heartbeat offered to clients that ask for
	// it (hello's app_ping; browser clients do): after AppPing without a
	// message from such a client the server sends it ping, and after
	// another AppPing without one it closes the connection with 4003. A
	// page the browser froze or cached with its socket open (it still
	// answers WebSocket pings) thus leaves presence within 2*AppPing.
	// Zero means 10s (DefaultAppPing); negative means no application pings
	// (welcome's app_ping_ms is 0 and hello's app_ping is ignored).
	AppPing time.Duration
	// ReadLimit is the largest message accepted, in bytes; a larger one
	// closes the connection with code 1009. Zero means 64 KiB
	// (DefaultReadLimit).
	ReadLimit int64
	// SendQueue is the capacity of each connection's send queue; a
	// connection whose queue overflows is closed with code 4002. A join's
	// replay takes one slot however long it is. Zero means 256
	// (DefaultSendQueue).
	SendQueue int
	// WriteTimeout bounds each write to a socket (a write may get up to 1/64
	// less: the deadline is not set anew for every write). Zero means 10s
	// (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxReplay bounds how many room messages a join replays: a resume
	// (docs/protocol.md §7) that is further behind than this is not
	// recovered, and a fresh join's history is cut to it. How many messages
	// a room keeps is the Broker's (memory.Config.HistorySize,
	// natsbroker.Config.HistorySize). Zero means 1000 (DefaultMaxReplay);
	// negative means no replay.
	MaxReplay int
	// LastValues names the rooms and message types whose latest
	// publication (per type, or per value of a key field) the server keeps
	// and hands to every joiner as the room's state (docs/protocol.md
	// §10), independent of the history's size, age and memory bounds. None
	// by default.
	LastValues []LastValue
	// MaxRoomsPerConn bounds the rooms one connection may have joined at
	// once; a join over it is refused with code too_many_rooms. Zero means
	// 100 (DefaultMaxRoomsPerConn); negative means unlimited.
	MaxRoomsPerConn int
	// IdempotencyTTL is how long a keyed request (docs/protocol.md §3) is
	// remembered, so that the same key sent again within it is answered
	// without running twice: the window the server asks of the Broker's
	// IdempotencyStore (how many keys it keeps is the broker's). Zero means
	// 5m (DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	// Authenticate establishes the identity of a handshake before the
	// upgrade; an error refuses it with HTTP 401. Required: New refuses a
	// Config without it, so that no server trusts a claimed identity by
	// accident. auth.Auth.Authenticate is one (signed tokens);
	// InsecureQueryIdentity, which believes ?user=, is for tests only and is
	// chosen by name.
	Authenticate func(r *http.Request) (Identity, error)
	// VerifyToken checks a token sent in-band by a refresh message
	// (docs/protocol.md §4) the way Authenticate checks a handshake's, and
	// returns its identity; the connection's expiry moves to the new
	// identity's when it is the same user. (auth.Auth.Verify is one.) Nil
	// means a refresh is answered with no_handler.
	VerifyToken func(token string) (Identity, error)
	// CheckOrigin accepts or refuses the handshake's Origin (HTTP 403). Nil
	// means the Origin's host must equal the request's Host.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins are origins ("https://app.example", scheme and host
	// with any port, compared without case) allowed besides the request's
	// own host when CheckOrigin is nil. Empty means same origin only.
	AllowedOrigins []string
	// CanJoin decides whether e.Conn may join e.Room; an error is sent to
	// the client as code forbidden (a *shared.Error is sent as is). ctx is
	// the connection's. Nil means everyone may.
	CanJoin func(ctx context.Context, e JoinEvent) error
	// OnConnect runs after welcome is queued, on the connection's reader
	// goroutine; an error closes the connection with code 4001 and the
	// error's text.
	OnConnect func(ctx context.Context, e ConnectEvent) error
	// OnDisconnect is called exactly once per connection that was upgraded,
	// after both of its goroutines stopped, with the close code (the peer's,
	// the server's, 1006 when the connection was lost) and reason.
	OnDisconnect func(e DisconnectEvent)
	// OnPing is called when the client sent a ping: a WebSocket ping frame
	// or an application "ping" message.
	OnPing func(e PingEvent)
	// OnPong is called when the client answered the server's ping.
	OnPong func(e PongEvent)
	// OnError is called with decode errors, handler errors and write errors.
	OnError func(e ErrorEvent)

	// Broker keeps the rooms' seqs, history and presence, the idempotency
	// window, and carries messages between the nodes of a cluster:
	// broker/memory for one process, broker/nats for a cluster on NATS
	// JetStream. The server does not close it. Nil means a memory broker
	// with memory.Config's defaults (one node; rooms are lost when the
	// process stops), which Shutdown closes.
	Broker broker.Broker

	// Observer receives the server's events, for metrics. Nil means none.
	Observer Observer
	// MessageRate is how many messages per second a connection may send,
	// on average. A message over the limit is not processed: the client gets
	// an error with code rate_limited (and the request id). More than
	// MessageBurst messages refused within RateLimitWindow closes the
	// connection with 1008 "rate limit exceeded". Zero means 50
	// (DefaultMessageRate); negative means unlimited.
	MessageRate rate.Limit
	// MessageBurst is how many messages a connection may send at once above
	// MessageRate, and how many refusals within RateLimitWindow it survives.
	// Zero means 100 (DefaultMessageBurst).
	MessageBurst int
	// MaxConnsPerUser bounds the open connections (and handshakes under way)
	// of one user. A handshake over the limit is refused with HTTP 429, code
	// rate_limited, before the upgrade. Zero means 16
	// (DefaultMaxConnsPerUser); negative means unlimited.
	MaxConnsPerUser int
	// MaxConnsPerIP bounds the open connections (and handshakes under way)
	// from one client IP address, refused like MaxConnsPerUser. Zero means
	// 256 (DefaultMaxConnsPerIP); negative means unlimited.
	MaxConnsPerIP int
	// ClientIP returns the client's IP address for MaxConnsPerIP, e.g. from
	// a header set by a trusted proxy. Nil means the host of r.RemoteAddr.
	ClientIP func(r *http.Request) string
	// HandshakeTimeout bounds the writing of the handshake response. It also
	// bounds the reading of the handshake request when the http.Server is
	// set up with ConfigureHTTPServer. Zero means 10s
	// (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// HTTPReadTimeout bounds the reading of a whole request other than a
	// WebSocket upgrade, body included, from the end of its headers, when
	// the http.Server is set up with ConfigureHTTPServer. A body sent slower
	// than that is cut off and the connection closed. Zero means 30s
	// (DefaultHTTPReadTimeout).
	HTTPReadTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive connection that waits this long
	// for its next request (ConfigureHTTPServer). Zero means 60s
	// (DefaultHTTPIdleTimeout).
	HTTPIdleTimeout time.Duration
	// MaxHTTPConnsPerIP bounds the TCP connections one peer address may hold
	// open at once, not counting those upgraded to WebSockets (which
	// MaxConnsPerIP bounds): idle keep-alive ones, slow requests, handshakes
	// under way (ConfigureHTTPServer). One more is closed at once, without an
	// answer. Zero means 64 (DefaultMaxHTTPConnsPerIP); negative means
	// unlimited.
	MaxHTTPConnsPerIP int
	// TrustedPeer reports whether a TCP peer address is exempt from
	// MaxHTTPConnsPerIP, e.g. a reverse proxy that carries many clients. Nil
	// means none is.
	TrustedPeer func(ip string) bool
	// Compression negotiates permessage-deflate (RFC 7692) with clients that
	// offer it; ReadLimit then bounds the decompressed message. False means
	// never.
	Compression bool
}

// validate refuses the values that have no meaning: New reports them
// instead of replacing them by a default.
func (cfg Config) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Heartbeat", cfg.Heartbeat}, {"HeartbeatTimeout", cfg.HeartbeatTimeout},
		{"WriteTimeout", cfg.WriteTimeout}, {"IdempotencyTTL", cfg.IdempotencyTTL},
		{"HandshakeTimeout", cfg.HandshakeTimeout}, {"HTTPReadTimeout", cfg.HTTPReadTimeout},
		{"HTTPIdleTimeout", cfg.HTTPIdleTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %v: want 0 (the default) or more", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"ReadLimit", cfg.ReadLimit}, {"SendQueue", int64(cfg.SendQueue)}, {"MessageBurst", int64(cfg.MessageBurst)},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d: want 0 (the default) or more", n.name, n.v))
		}
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("Config.Authenticate is nil: set it to your authentication (auth.Auth.Authenticate for signed tokens); server.InsecureQueryIdentity trusts ?user= and is for tests only"))
	}
	if cfg.Heartbeat > 0 && cfg.HeartbeatTimeout > 0 && cfg.HeartbeatTimeout <= cfg.Heartbeat {
		errs = append(errs, fmt.Errorf("HeartbeatTimeout %v is not longer than Heartbeat %v: every connection would time out between two pings", cfg.HeartbeatTimeout, cfg.Heartbeat))
	}
	for i, lv := range cfg.LastValues {
		if err := lv.validate(); err != nil {
			errs = append(errs, fmt.Errorf("LastValues[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server config: %w", err)
	}
	return nil
}

// orDefault sets *v to d where *v is the zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// positiveOr sets *v to d where *v is zero or less.
func positiveOr[T cmp.Ordered](v *T, d T) {
	var zero T
	if *v <= zero {
		*v = d
	}
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Registry == nil {
		cfg.Registry = shared.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	positiveOr(&cfg.Heartbeat, DefaultHeartbeat)
	positiveOr(&cfg.HeartbeatTimeout, 2*cfg.Heartbeat+DefaultHeartbeatGrace)
	orDefault(&cfg.AppPing, DefaultAppPing)
	positiveOr(&cfg.ReadLimit, DefaultReadLimit)
	positiveOr(&cfg.SendQueue, DefaultSendQueue)
	positiveOr(&cfg.WriteTimeout, DefaultWriteTimeout)
	orDefault(&cfg.MaxReplay, DefaultMaxReplay)
	if cfg.MaxReplay < 0 {
		cfg.MaxReplay = 0
	}
	orDefault(&cfg.MaxRoomsPerConn, DefaultMaxRoomsPerConn)
	positiveOr(&cfg.IdempotencyTTL, DefaultIdempotencyTTL)
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	orDefault(&cfg.MessageRate, DefaultMessageRate)
	if cfg.MessageRate < 0 {
		cfg.MessageRate = rate.Inf
	}
	orDefault(&cfg.MessageBurst, DefaultMessageBurst)
	orDefault(&cfg.MaxConnsPerUser, DefaultMaxConnsPerUser)
	orDefault(&cfg.MaxConnsPerIP, DefaultMaxConnsPerIP)
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	positiveOr(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	positiveOr(&cfg.HTTPReadTimeout, DefaultHTTPReadTimeout)
	positiveOr(&cfg.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	orDefault(&cfg.MaxHTTPConnsPerIP, DefaultMaxHTTPConnsPerIP)
	return cfg
}

// InsecureQueryIdentity is the tests' authentication (docs/protocol.md §1):
// it believes the user id in the query parameter "user" and the display
// name in "name" (default: the user id), so anyone can connect as anyone.
// Use it in tests and demos on a private machine, never where a user's id
// matters: set Config.Authenticate to it by name.
func InsecureQueryIdentity(r *http.Request) (Identity, error) {
	q := r.URL.Query()
	id := Identity{User: q.Get("user"), Name: q.Get("name")}
	if err := ValidUser(id.User); err != nil {
		return Identity{}, err
	}
	if id.Name == "" {
		id.Name = id.User
	}
	if err := validName(id.Name); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// ValidUser checks a user id: 1 to MaxUserLen characters of [A-Za-z0-9._-].
func ValidUser(user string) error {
	if user == "" {
		return errors.New("user is required")
	}
	if len(user) > MaxUserLen {
		return fmt.Errorf("user is longer than %d characters", MaxUserLen)
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("user %q: invalid character at %d (want [A-Za-z0-9._-])", user, i)
		}
	}
	return nil
}

// validName checks a display name: valid UTF-8, at most MaxNameLen
// characters, no control characters.
func validName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return fmt.Errorf("name is longer than %d characters", MaxNameLen)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return errors.New("name contains control characters")
		}
	}
	return nil
}

// remoteHost is the default Config.ClientIP: the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wireLimit is the largest message accepted on the wire. Without compression
// it is the read limit; with it, a compressed message may be slightly larger
// than its decompressed size (deflate's stored blocks), so the wire limit
// leaves room for that and ReadLimit is enforced on the decompressed bytes.
func (cfg Config) wireLimit() int64 {
	if !cfg.Compression {
		return cfg.ReadLimit
	}
	return cfg.ReadLimit + cfg.ReadLimit/8 + 1024
}
