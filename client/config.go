package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMinBackoff     = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultOutbox         = 1000
	// DefaultPingInterval is the heartbeat when neither Config nor the
	// server's welcome sets one (the server's DefaultHeartbeat).
	DefaultPingInterval = 25 * time.Second
	// HandshakeTimeout bounds a connection attempt: dial plus welcome.
	HandshakeTimeout = 10 * time.Second
)

const (
	// stableConnection is how long a connection must have stayed open for
	// the backoff to start over after it is lost even though its rejoins did
	// not all succeed (a session that got welcome and rejoined every room
	// starts over at once).
	stableConnection = 10 * time.Second
)

// Config configures a Client. The zero value is usable but for URL: every
// zero field has the default documented on it, written "Zero means …" (nil
// likewise), and every default is an exported Default constant. New refuses
// a value that has no meaning (a negative backoff, say) with an error
// instead of replacing it.
type Config struct {
	// URL is the server's WebSocket endpoint, e.g.
	// "ws://localhost:8080/ws?user=alice&name=Alice".
	URL string
	// Transport opens the WebSocket. Nil means NativeTransport{} on native
	// platforms and BrowserTransport{} under js/wasm.
	Transport Transport
	// Registry decodes incoming messages. Nil means shared.NewRegistry().
	Registry *shared.Registry
	// Logger receives the client's logs. Nil means slog.Default().
	Logger *slog.Logger
	// MinBackoff sets the pace of reconnects. The first wait after a lost
	// connection is random between MinBackoff/2 and MinBackoff; see
	// MaxBackoff for the waits after that. Zero means 500ms
	// (DefaultMinBackoff).
	MinBackoff time.Duration
	// MaxBackoff caps the wait before a reconnect; it must not be below
	// MinBackoff. Zero means 30s (DefaultMaxBackoff), or MinBackoff when that
	// is longer. The wait
	// after the n-th failure in a row (n ≥ 2) is random ("full jitter")
	// between MinBackoff and min(MaxBackoff, MinBackoff·2ⁿ⁻¹). A failure is a
	// dial or handshake that did not succeed, or a connection lost before it
	// had joined every remembered room again; a connection that got welcome
	// and rejoined its rooms resets the count, so a network that drops every
	// few seconds is rejoined within MinBackoff each time. When the server
	// closed with 1001 (going away: shutdown or restart) the wait is at
	// least that of the fifth failure, random in [MinBackoff, 16·MinBackoff],
	// so the clients of a restarting server do not all come back at once
	// (docs/protocol.md §8 has the figures).
	MaxBackoff time.Duration
	// RequestTimeout bounds every request (Request, Join, Leave) whose
	// context has no earlier deadline, including the wait for a connection,
	// and every write. (A connection attempt, dial plus welcome, is bounded
	// by HandshakeTimeout.) Zero means 10s (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Outbox bounds the messages Send keeps until the server answered them
	// (sent or waiting for a connection); Send returns ErrOutboxFull beyond
	// it. Zero means 1000 (DefaultOutbox); negative means no outbox: Send
	// writes at once and fails with ErrNotConnected when the client is not
	// Open.
	Outbox int
	// OutboxStore keeps the outbox beyond the client's life (see
	// OutboxStore): what Send queued and the server has not answered is
	// sent by the user's next client (the next page after a reload, Back,
	// or a closed tab) within the server's key window. Nil means
	// BrowserOutboxStore (localStorage) under js/wasm when the page has
	// storage, and none natively: a native client's outbox lives in memory
	// only.
	OutboxStore OutboxStore
	// Token, when set, returns a fresh token for the connection's user. When
	// the server announced that the connection's token expires (welcome's
	// expires_ms), the client calls it at four fifths of the token's time
	// left and sends the result in-band (Refresh), so the connection is not
	// closed with 1008. A NativeTransport.HeaderFunc built on the same
	// function makes reconnects use a fresh token too. Nil means the token is
	// never refreshed in-band.
	Token func(ctx context.Context) (string, error)
	// PingInterval drives the application heartbeat: when nothing has been
	// received for PingInterval the client sends a ping, and when nothing at
	// all arrives within another PingInterval it drops the connection and
	// reconnects. Zero means the server's heartbeat_ms from welcome
	// (DefaultPingInterval if the server sends none).
	PingInterval time.Duration
}

// validate refuses the values that have no meaning: New reports them
// instead of replacing them by a default.
func (o Config) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MinBackoff", o.MinBackoff}, {"MaxBackoff", o.MaxBackoff},
		{"RequestTimeout", o.RequestTimeout}, {"PingInterval", o.PingInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %v: want 0 (the default) or more", d.name, d.v))
		}
	}
	if o.MinBackoff > 0 && o.MaxBackoff > 0 && o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("MaxBackoff %v is below MinBackoff %v", o.MaxBackoff, o.MinBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	return nil
}

// withDefaults returns o with every zero field replaced by its default.
func (o Config) withDefaults() Config {
	if o.Transport == nil {
		o.Transport = defaultTransport()
	}
	if o.Registry == nil {
		o.Registry = shared.NewRegistry()
	}
	if o.OutboxStore == nil {
		o.OutboxStore = defaultOutboxStore()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Outbox == 0 {
		o.Outbox = DefaultOutbox
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	return o
}

// pingInterval is the heartbeat interval for a connection greeted by w.
func (o Config) pingInterval(w shared.Welcome) time.Duration {
	switch {
	case o.PingInterval > 0:
		return o.PingInterval
	case w.HeartbeatMS > 0:
		return time.Duration(w.HeartbeatMS) * time.Millisecond
	default:
		return DefaultPingInterval
	}
}
