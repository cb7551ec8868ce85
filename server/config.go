package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tetherkit/tether/shared"
	"golang.org/x/time/rate"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHeartbeat    = 25 * time.Second
	DefaultReadLimit    = 64 << 10
	DefaultSendQueue    = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultHistorySize  = 100
	DefaultHistoryTTL   = 10 * time.Minute

	DefaultMessageRate      rate.Limit = 50
	DefaultMessageBurst                = 100
	DefaultMaxConnsPerUser             = 16
	DefaultMaxConnsPerIP               = 256
	DefaultHandshakeTimeout            = 10 * time.Second
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
// the default documented on it.
type Config struct {
	// Registry knows the message types; nil → shared.NewRegistry().
	Registry *shared.Registry
	// Logger receives the server's logs; nil → slog.Default().
	Logger *slog.Logger
	// Heartbeat is the WebSocket ping interval; 0 → 25s.
	Heartbeat time.Duration
	// HeartbeatTimeout closes a connection (code 4003) from which nothing was
	// received this long; 0 → 2*Heartbeat + 5s.
	HeartbeatTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes; 0 → 64 KiB. A
	// larger one closes the connection with code 1009.
	ReadLimit int64
	// SendQueue is the capacity of each connection's send queue; 0 → 256. A
	// connection whose queue overflows is closed with code 4002. A join's
	// replay takes one slot however long it is.
	SendQueue int
	// WriteTimeout bounds each write to a socket (a write may get up to 1/64
	// less: the deadline is not set anew for every write); 0 → 10s.
	WriteTimeout time.Duration
	// HistorySize is how many messages each room keeps for replay; 0 → 100,
	// negative → no history.
	HistorySize int
	// HistoryTTL is how long a room message is kept for replay; 0 → 10m,
	// negative → until pushed out by HistorySize.
	HistoryTTL time.Duration
	// Authenticate establishes the identity of a handshake before the
	// upgrade; an error refuses it with HTTP 401. Nil → QueryIdentity.
	Authenticate func(r *http.Request) (Identity, error)
	// CheckOrigin accepts or refuses the handshake's Origin (HTTP 403); nil →
	// the Origin's host must equal the request's Host.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins are origins ("https://app.example", scheme and host
	// with any port, compared without case) allowed besides the request's
	// own host when CheckOrigin is nil. Empty → same origin only.
	AllowedOrigins []string
	// CanJoin decides whether c may join room; an error is sent to the client
	// as code forbidden (a *shared.Error is sent as is). Nil → everyone may.
	CanJoin func(c *Conn, room string) error
	// OnConnect runs after welcome is queued, on the connection's reader
	// goroutine; an error closes the connection with code 4001 and the
	// error's text.
	OnConnect func(ctx context.Context, c *Conn) error
	// OnDisconnect is called exactly once per connection that was upgraded,
	// after both of its goroutines stopped, with the close code (the peer's,
	// the server's, 1006 when the connection was lost) and reason.
	OnDisconnect func(c *Conn, code int, reason string)
	// OnPing is called when the client sent a ping: a WebSocket ping frame
	// or an application "ping" message.
	OnPing func(c *Conn)
	// OnPong is called when the client answered the server's ping.
	OnPong func(c *Conn)
	// OnError is called with decode errors, handler errors and write errors.
	OnError func(c *Conn, err error)

	// Observer receives the server's events, for metrics; nil → none.
	Observer Observer
	// MessageRate is how many messages per second a connection may send,
	// on average; 0 → 50, negative → unlimited. A message over the limit is
	// not processed: the client gets an error with code rate_limited (and the
	// request id). More than MessageBurst messages refused within
	// RateLimitWindow closes the connection with 1008 "rate limit exceeded".
	MessageRate rate.Limit
	// MessageBurst is how many messages a connection may send at once above
	// MessageRate, and how many refusals within RateLimitWindow it survives;
	// below 1 → 100.
	MessageBurst int
	// MaxConnsPerUser bounds the open connections (and handshakes under way)
	// of one user; 0 → 16, negative → unlimited. A handshake over the limit
	// is refused with HTTP 429, code rate_limited, before the upgrade.
	MaxConnsPerUser int
	// MaxConnsPerIP bounds the open connections (and handshakes under way)
	// from one client IP address; 0 → 256, negative → unlimited. Refused like
	// MaxConnsPerUser.
	MaxConnsPerIP int
	// ClientIP returns the client's IP address for MaxConnsPerIP, e.g. from
	// a header set by a trusted proxy; nil → the host of r.RemoteAddr.
	ClientIP func(r *http.Request) string
	// HandshakeTimeout bounds the writing of the handshake response; 0 →
	// 10s. It also bounds the reading of the handshake request when the
	// http.Server is set up with ConfigureHTTPServer.
	HandshakeTimeout time.Duration
	// Compression negotiates permessage-deflate (RFC 7692) with clients that
	// offer it; false (the default) → never. ReadLimit then bounds the
	// decompressed message.
	Compression bool
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Registry == nil {
		cfg.Registry = shared.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 2*cfg.Heartbeat + 5*time.Second
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.HistorySize == 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	if cfg.HistorySize < 0 {
		cfg.HistorySize = 0
	}
	if cfg.HistoryTTL == 0 {
		cfg.HistoryTTL = DefaultHistoryTTL
	}
	if cfg.Authenticate == nil {
		cfg.Authenticate = QueryIdentity
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.MessageRate == 0 {
		cfg.MessageRate = DefaultMessageRate
	}
	if cfg.MessageRate < 0 {
		cfg.MessageRate = rate.Inf
	}
	if cfg.MessageBurst < 1 {
		cfg.MessageBurst = DefaultMessageBurst
	}
	if cfg.MaxConnsPerUser == 0 {
		cfg.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return cfg
}

// QueryIdentity is the placeholder authentication of docs/protocol.md §1: it
// reads the user id from the query parameter "user" and the display name
// from "name" (default: the user id).
func QueryIdentity(r *http.Request) (Identity, error) {
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
