package client

import (
	"log/slog"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Defaults for the zero values of Options.
const (
	defaultMinBackoff     = 500 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
	defaultRequestTimeout = 10 * time.Second
	defaultPingInterval   = 25 * time.Second // when neither Options nor welcome say
	// handshakeTimeout bounds a connection attempt: dial plus welcome.
	handshakeTimeout = 10 * time.Second
	// stableConnection is how long a connection must have stayed open for
	// the backoff to start again from MinBackoff after it is lost. Without
	// it a server that accepts and at once drops every connection would be
	// hammered at MinBackoff pace forever.
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
	// MinBackoff is the shortest wait before a reconnect. 0 means 500ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait before a reconnect. 0 means 30s. The wait
	// after the n-th failure in a row is random ("full jitter") between
	// MinBackoff and min(MaxBackoff, MinBackoff·2ⁿ).
	MaxBackoff time.Duration
	// RequestTimeout bounds every request (Request, Join, Leave) whose
	// context has no earlier deadline, including the wait for a connection,
	// and every write. 0 means 10s. (A connection attempt, dial plus welcome,
	// is bounded by a fixed 10s.)
	RequestTimeout time.Duration
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
