package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Namespace prefixes the name of every metric of this package.
const Namespace = "tether"

// Label values used when the real value is outside the bounded set.
const (
	// TypeUnknown labels a message whose type the server's registry does
	// not know.
	TypeUnknown = "unknown"
	// TypeMalformed labels a frame that could not be decoded (type "").
	TypeMalformed = "malformed"
	// Other labels a close code, handshake outcome, drop reason or API
	// route outside the known ones.
	Other = "other"
)

// The label values of the bounded labels, read-only: anything else is
// counted as Other.
var (
	// handshakeOutcomes are those server.Observer.HandshakeDone reports.
	handshakeOutcomes = []string{"ok", "unauthorized", "forbidden_origin", "banned", "too_many", "failed", Other}
	// dropReasons are those server.Observer.Dropped reports.
	dropReasons = []string{"slow_consumer", "closed", Other}
	// closeCodes are those of RFC 6455 and IANA's registry (1000–1015, less
	// the reserved 1004) and Tether's own (docs/protocol.md §8). A peer may
	// close with any code from 3000 to 4999, hence the bound.
	closeCodes = []int{
		1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
		shared.CloseKicked, shared.CloseRejected, shared.CloseSlowConsumer, shared.CloseHeartbeat,
	}
)

// handshakeBuckets are the upper bounds, in seconds, of the handshake
// duration histogram: 100µs to 5s.
var handshakeBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// Config configures Metrics. The zero value is usable: every zero field has
// the default documented on it.
type Config struct {
	// Prometheus is the Prometheus registry the metrics are registered in,
	// with the Go runtime and process collectors. Give one to add metrics of
	// your own to the same /metrics page. Nil means a new
	// prometheus.NewRegistry().
	Prometheus *prometheus.Registry
	// Logger receives the errors of the /metrics handler. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Metrics holds a Tether server's metrics. It implements server.BatchObserver;
// create it with New. Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	log     *slog.Logger
	handler http.Handler

	handshakes        map[string]prometheus.Counter // by outcome, Other included
	handshakeDuration prometheus.Histogram
	closed            map[int]prometheus.Counter // by close code
	closedOther       prometheus.Counter
	byType            atomic.Pointer[map[string]typeCounters] // by wire type; replaced whole by Types
	typesMu           sync.Mutex                              // serialises Types
	typeSeries        func(label string) typeCounters
	unknown           typeCounters
	malformed         typeCounters
	bytesIn, bytesOut prometheus.Counter
	dropped           map[string]prometheus.Counter // by reason, Other included
	slowConsumer      prometheus.Counter
	heartbeatTimeouts prometheus.Counter
	rateLimited       prometheus.Counter
	apiRequests       *prometheus.CounterVec
}

// typeCounters are the message counters of one type label.
type typeCounters struct {
	in, out prometheus.Counter
}

var _ server.BatchObserver = (*Metrics)(nil)

// counters creates vec's series for each of keys up front, labelled
// label(key), so that they are exported (at 0) before anything happens and
// the hot path is a map lookup.
func counters[K comparable](vec *prometheus.CounterVec, keys []K, label func(K) string) map[K]prometheus.Counter {
	m := make(map[K]prometheus.Counter, len(keys))
	for _, k := range keys {
		m[k] = vec.WithLabelValues(label(k))
	}
	return m
}

// identity is the label of a key that is its own label.
func identity(s string) string { return s }

// New creates the metrics and registers them, with the Go runtime and
// process collectors, in cfg.Prometheus. It fails when the registry already
// holds metrics of the same names (a second New on one registry).
func New(cfg Config) (*Metrics, error) {
	if cfg.Prometheus == nil {
		cfg.Prometheus = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Metrics{reg: cfg.Prometheus, log: cfg.Logger}

	handshakes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "handshakes_total",
		Help: "WebSocket handshake attempts, by outcome (ok, unauthorized, forbidden_origin, too_many, failed, other).",
	}, []string{"outcome"})
	m.handshakes = counters(handshakes, handshakeOutcomes, identity)
	m.handshakeDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "handshake_duration_seconds",
		Help:    "Time from the start of a WebSocket handshake to its outcome.",
		Buckets: handshakeBuckets,
	})

	closed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "connections_closed_total",
		Help: "Connections closed, by close code (codes outside RFC 6455's and Tether's are \"other\").",
	}, []string{"code"})
	m.closed = counters(closed, closeCodes, strconv.Itoa)
	m.closedOther = closed.WithLabelValues(Other)

	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "messages_in_total",
		Help: "Data frames received, by message type (\"unknown\" for unregistered types, \"malformed\" when undecodable).",
	}, []string{"type"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "messages_out_total",
		Help: "Data frames written to sockets, by message type.",
	}, []string{"type"})
	series := func(label string) typeCounters {
		return typeCounters{in: in.WithLabelValues(label), out: out.WithLabelValues(label)}
	}
	m.typeSeries = series
	m.Types(shared.NewRegistry())
	// A registry may one day know a type named like a fallback label; it then
	// shares that series, which keeps the label set bounded all the same.
	m.unknown = series(TypeUnknown)
	m.malformed = series(TypeMalformed)

	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "bytes_in_total",
		Help: "Bytes of data frames received.",
	})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "bytes_out_total",
		Help: "Bytes of data frames written to sockets.",
	})

	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "dropped_total",
		Help: "Frames that could not be queued to a connection, by reason (slow_consumer, closed, other).",
	}, []string{"reason"})
	m.dropped = counters(dropped, dropReasons, identity)
	m.slowConsumer = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "slow_consumer_closes_total",
		Help: "Connections closed because their send queue overflowed (close code 4002).",
	})
	m.heartbeatTimeouts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "heartbeat_timeouts_total",
		Help: "Connections closed because nothing was received within the heartbeat timeout (close code 4003).",
	})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rate_limited_total",
		Help: "Client messages refused by the per-connection rate limit.",
	})
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_requests_total",
		Help: "HTTP API requests, by route (push, kick, presence, connections, stats, other) and status code.",
	}, []string{"route", "status"})

	for _, c := range []prometheus.Collector{
		handshakes, m.handshakeDuration, closed, in, out, m.bytesIn, m.bytesOut, dropped,
		m.slowConsumer, m.heartbeatTimeouts, m.rateLimited, m.apiRequests,
	} {
		if err := cfg.Prometheus.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		// A registry given by the caller may hold them already: keep those.
		if err := cfg.Prometheus.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, fmt.Errorf("metrics: register runtime collector: %w", err)
		}
	}
	m.handler = promhttp.InstrumentMetricHandler(cfg.Prometheus, promhttp.HandlerFor(cfg.Prometheus, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      cfg.Prometheus,
	}))
	return m, nil
}

// Prometheus returns the Prometheus registry the metrics are registered in.
func (m *Metrics) Prometheus() *prometheus.Registry { return m.reg }

// Handler serves the registry's metrics in the Prometheus exposition format;
// mount it at /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// HandshakeDone implements server.Observer.
func (m *Metrics) HandshakeDone(outcome string, took time.Duration) {
	c, ok := m.handshakes[outcome]
	if !ok {
		c = m.handshakes[Other]
	}
	c.Inc()
	m.handshakeDuration.Observe(took.Seconds())
}

// ConnClosed implements server.Observer.
func (m *Metrics) ConnClosed(code int) {
	c, ok := m.closed[code]
	if !ok {
		c = m.closedOther
	}
	c.Inc()
}

// MessageIn implements server.Observer.
func (m *Metrics) MessageIn(typ string, bytes int) {
	m.series(typ).in.Inc()
	if bytes > 0 {
		m.bytesIn.Add(float64(bytes))
	}
}

// MessageOut implements server.Observer.
func (m *Metrics) MessageOut(typ string, bytes int) {
	m.series(typ).out.Inc()
	if bytes > 0 {
		m.bytesOut.Add(float64(bytes))
	}
}

// MessagesOut implements server.BatchObserver: frames frames of type typ,
// bytes in all, written together, counted with one addition each.
func (m *Metrics) MessagesOut(typ string, frames, bytes int) {
	if frames > 0 {
		m.series(typ).out.Add(float64(frames))
	}
	if bytes > 0 {
		m.bytesOut.Add(float64(bytes))
	}
}

// Types implements server.Observer: the server's registry's types become
// labels of themselves in tether_messages_{in,out}_total, created at 0;
// other types are counted as TypeUnknown. The system messages are labels
// from New on.
func (m *Metrics) Types(r *shared.Registry) {
	m.typesMu.Lock()
	defer m.typesMu.Unlock()
	next := make(map[string]typeCounters)
	if cur := m.byType.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	for _, t := range r.Types() {
		if _, ok := next[t]; !ok {
			next[t] = m.typeSeries(t)
		}
	}
	m.byType.Store(&next)
}

// series returns the counters that typ is labelled with.
func (m *Metrics) series(typ string) typeCounters {
	if typ == "" {
		return m.malformed
	}
	if c, ok := (*m.byType.Load())[typ]; ok {
		return c
	}
	return m.unknown
}

// Dropped implements server.Observer.
func (m *Metrics) Dropped(reason string) {
	c, ok := m.dropped[reason]
	if !ok {
		c = m.dropped[Other]
	}
	c.Inc()
}

// SlowConsumer implements server.Observer.
func (m *Metrics) SlowConsumer() { m.slowConsumer.Inc() }

// HeartbeatTimeout implements server.Observer.
func (m *Metrics) HeartbeatTimeout() { m.heartbeatTimeouts.Inc() }

// RateLimited implements server.Observer.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }
