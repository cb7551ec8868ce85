package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tetherkit/tether/shared"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHeartbeat    = 25 * time.Second
	DefaultReadLimit    = 64 << 10
	DefaultSendQueue    = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultHistorySize  = 100
	DefaultHistoryTTL   = 10 * time.Minute
)

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
	// connection whose queue overflows is closed with code 4002. A join
	// queues joined and its replay at once, so keep it above HistorySize.
	SendQueue int
	// WriteTimeout bounds each write to a socket; 0 → 10s.
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
