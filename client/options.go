package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Defaults for the zero values of Options.
const (
	defaultMinBackoff     = 500 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
	defaultRequestTimeout = 10 * time.Second
	defaultOutbox         = 1000
	defaultPingInterval   = 25 * time.Second // when neither Options nor welcome say
	// handshakeTimeout bounds a connection attempt: dial plus welcome.
	handshakeTimeout = 10 * time.Second
	// stableConnection is how long a connection must have stayed open for
	// the backoff to start over after it is lost even though its rejoins did
	// not all succeed (a session that got welcome and rejoined every room
	// starts over at once).
	stableConnection = 10 * time.Second
)

// Options configures a Client. Every zero value selects a documented default.
type Options struct {
	// URL is the server's WebSocket endpoint, e.g.
	// "ws://localhost:8080/ws?user=alice&name=Alice".
	URL string
	// Transport opens the WebSocket. Nil selects NativeTransport{} on native
	// platforms and BrowserTransport{} under js/wasm.
	Transport Transport
	// Registry decodes incoming messages. Nil means shared.NewRegistry().
	Registry *shared.Registry
	// Logger receives the client's logs. Nil means slog.Default().
	Logger *slog.Logger
	// MinBackoff sets the pace of reconnects. 0 means 500ms. The first wait
	// after a lost connection is random between MinBackoff/2 and MinBackoff;
	// see MaxBackoff for the waits after that.
	MinBackoff time.Duration
	// MaxBackoff caps the wait before a reconnect. 0 means 30s. The wait
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
	// and every write. 0 means 10s. (A connection attempt, dial plus welcome,
	// is bounded by a fixed 10s.)
	RequestTimeout time.Duration
	// Outbox bounds the messages Send keeps until the server answered them
	// (sent or waiting for a connection); 0 means 1000. Send returns
	// ErrOutboxFull beyond it. Negative: no outbox, Send writes at once and
	// fails with ErrNotConnected when the client is not Open.
	Outbox int
	// Token, when set, returns a fresh token for the connection's user. When
	// the server announced that the connection's token expires (welcome's
	// expires_ms), the client calls it at four fifths of the token's time
	// left and sends the result in-band (Refresh), so the connection is not
	// closed with 1008. A NativeTransport.HeaderFunc built on the same
	// function makes reconnects use a fresh token too.
	Token func(ctx context.Context) (string, error)
	// PingInterval drives the application heartbeat: when nothing has been
	// received for PingInterval the client sends a ping, and when nothing at
	// all arrives within another PingInterval it drops the connection and
	// reconnects. 0 means the server's heartbeat_ms from welcome (25s if the
	// server sends none).
	PingInterval time.Duration
}

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.Transport == nil {
		o.Transport = defaultTransport()
	}
	if o.Registry == nil {
		o.Registry = shared.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Outbox == 0 {
		o.Outbox = defaultOutbox
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	return o
}

// pingInterval is the heartbeat interval for a connection greeted by w.
func (o Options) pingInterval(w shared.Welcome) time.Duration {
	switch {
	case o.PingInterval > 0:
		return o.PingInterval
	case w.HeartbeatMS > 0:
		return time.Duration(w.HeartbeatMS) * time.Millisecond
	default:
		return defaultPingInterval
	}
}
