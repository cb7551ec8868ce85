package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/metrics"
	"github.com/tetherkit/tether/shared"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newMetrics returns Metrics on a registry of their own, knowing the types
// of testmsg.NewRegistry (given through Types, as the server does).
func newMetrics(t testing.TB) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{
		Prometheus: reg,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	m.Types(testmsg.NewRegistry())
	return m, reg
}

// family returns the gathered metric family called name, or nil.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// labelsOf renders a metric's labels as k="v",… in name order.
func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return strings.Join(parts, ",")
}

// sample is one expected series: name{labels} value.
type sample struct {
	name   string
	labels string // k="v",… in label name order; "" for none
	value  float64
}

func (s sample) String() string { return fmt.Sprintf("%s{%s}", s.name, s.labels) }

// valueOf returns the value of the series s names, and whether it exists.
func valueOf(t *testing.T, reg prometheus.Gatherer, s sample) (float64, bool) {
	t.Helper()
	mf := family(t, reg, s.name)
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if labelsOf(m) != s.labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// expect fails the test for every sample whose series is missing or has
// another value.
func expect(t *testing.T, reg prometheus.Gatherer, want ...sample) {
	t.Helper()
	for _, w := range want {
		got, ok := valueOf(t, reg, w)
		if !ok {
			t.Errorf("%v is not exposed; a dashboard querying it would show no data", w)
			continue
		}
		if got != w.value {
			t.Errorf("%v = %v, want %v", w, got, w.value)
		}
	}
}

func TestObserverCounts(t *testing.T) {
	tests := []struct {
		name  string
		drive func(m *metrics.Metrics)
		want  []sample
	}{
		{
			name:  "successful handshake",
			drive: func(m *metrics.Metrics) { m.HandshakeDone("ok", time.Millisecond) },
			want: []sample{
				{"tether_handshakes_total", `outcome="ok"`, 1},
				{"tether_handshakes_total", `outcome="unauthorized"`, 0},
				{"tether_handshake_duration_seconds", "", 1},
			},
		},
		{
			name: "every refused handshake outcome",
			drive: func(m *metrics.Metrics) {
				for _, o := range []string{"unauthorized", "forbidden_origin", "too_many", "too_many", "failed"} {
					m.HandshakeDone(o, time.Millisecond)
				}
			},
			want: []sample{
				{"tether_handshakes_total", `outcome="unauthorized"`, 1},
				{"tether_handshakes_total", `outcome="forbidden_origin"`, 1},
				{"tether_handshakes_total", `outcome="too_many"`, 2},
				{"tether_handshakes_total", `outcome="failed"`, 1},
				{"tether_handshakes_total", `outcome="ok"`, 0},
				{"tether_handshake_duration_seconds", "", 5},
			},
		},
		{
			name:  "unexpected handshake outcome",
			drive: func(m *metrics.Metrics) { m.HandshakeDone("teapot", time.Millisecond) },
			want:  []sample{{"tether_handshakes_total", `outcome="other"`, 1}},
		},
		{
			name: "close codes",
			drive: func(m *metrics.Metrics) {
				for _, c := range []int{1000, 1000, 1001, 1006, 1009, shared.CloseKicked, shared.CloseRejected, shared.CloseSlowConsumer, shared.CloseHeartbeat} {
					m.ConnClosed(c)
				}
			},
			want: []sample{
				{"tether_connections_closed_total", `code="1000"`, 2},
				{"tether_connections_closed_total", `code="1001"`, 1},
				{"tether_connections_closed_total", `code="1006"`, 1},
				{"tether_connections_closed_total", `code="1009"`, 1},
				{"tether_connections_closed_total", `code="4000"`, 1},
				{"tether_connections_closed_total", `code="4001"`, 1},
				{"tether_connections_closed_total", `code="4002"`, 1},
				{"tether_connections_closed_total", `code="4003"`, 1},
				{"tether_connections_closed_total", `code="other"`, 0},
			},
		},
		{
			name: "client-chosen and invalid close codes",
			drive: func(m *metrics.Metrics) {
				for _, c := range []int{3000, 4999, 1004, 0, -1, 65535} {
					m.ConnClosed(c)
				}
			},
			want: []sample{{"tether_connections_closed_total", `code="other"`, 6}},
		},
		{
			name: "messages in by type",
			drive: func(m *metrics.Metrics) {
				m.MessageIn("ping", 15)
				m.MessageIn("chat.send", 40)
				m.MessageIn("chat.send", 45)
			},
			want: []sample{
				{"tether_messages_in_total", `type="ping"`, 1},
				{"tether_messages_in_total", `type="chat.send"`, 2},
				{"tether_messages_in_total", `type="join"`, 0},
				{"tether_bytes_in_total", "", 100},
				{"tether_messages_out_total", `type="ping"`, 0},
				{"tether_bytes_out_total", "", 0},
			},
		},
		{
			name: "unregistered and undecodable messages in",
			drive: func(m *metrics.Metrics) {
				m.MessageIn("no.such.type", 30)
				m.MessageIn("", 7)
				m.MessageIn("", 3)
			},
			want: []sample{
				{"tether_messages_in_total", `type="unknown"`, 1},
				{"tether_messages_in_total", `type="malformed"`, 2},
				{"tether_bytes_in_total", "", 40},
			},
		},
		{
			name: "messages out by type",
			drive: func(m *metrics.Metrics) {
				m.MessageOut("welcome", 120)
				m.MessageOut("chat.message", 80)
				m.MessageOut("made.up", 1)
			},
			want: []sample{
				{"tether_messages_out_total", `type="welcome"`, 1},
				{"tether_messages_out_total", `type="chat.message"`, 1},
				{"tether_messages_out_total", `type="unknown"`, 1},
				{"tether_bytes_out_total", "", 201},
				{"tether_messages_in_total", `type="welcome"`, 0},
				{"tether_bytes_in_total", "", 0},
			},
		},
		{
			name: "batches out count every frame",
			drive: func(m *metrics.Metrics) {
				m.MessagesOut("chat.message", 16, 16*80)
				m.MessagesOut("chat.message", 1, 80)
				m.MessagesOut("made.up", 3, 3)
				m.MessagesOut("pong", 0, 0)
			},
			want: []sample{
				{"tether_messages_out_total", `type="chat.message"`, 17},
				{"tether_messages_out_total", `type="unknown"`, 3},
				{"tether_messages_out_total", `type="pong"`, 0},
				{"tether_bytes_out_total", "", 17*80 + 3},
			},
		},
		{
			name: "zero and negative sizes count the message, not bytes",
			drive: func(m *metrics.Metrics) {
				m.MessageIn("ping", 0)
				m.MessageOut("pong", -5)
			},
			want: []sample{
				{"tether_messages_in_total", `type="ping"`, 1},
				{"tether_messages_out_total", `type="pong"`, 1},
				{"tether_bytes_in_total", "", 0},
				{"tether_bytes_out_total", "", 0},
			},
		},
		{
			name: "drops by reason",
			drive: func(m *metrics.Metrics) {
				m.Dropped("slow_consumer")
				m.Dropped("slow_consumer")
				m.Dropped("closed")
				m.Dropped("cosmic ray")
			},
			want: []sample{
				{"tether_dropped_total", `reason="slow_consumer"`, 2},
				{"tether_dropped_total", `reason="closed"`, 1},
				{"tether_dropped_total", `reason="other"`, 1},
			},
		},
		{
			name: "slow consumer, heartbeat and rate limit",
			drive: func(m *metrics.Metrics) {
				m.SlowConsumer()
				m.HeartbeatTimeout()
				m.HeartbeatTimeout()
				m.RateLimited()
				m.RateLimited()
				m.RateLimited()
			},
			want: []sample{
				{"tether_slow_consumer_closes_total", "", 1},
				{"tether_heartbeat_timeouts_total", "", 2},
				{"tether_rate_limited_total", "", 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.drive(m)
			expect(t, reg, tt.want...)
		})
	}
}

func TestHandshakeDurationBuckets(t *testing.T) {
	m, reg := newMetrics(t)
	for _, d := range []time.Duration{50 * time.Microsecond, 150 * time.Microsecond, 3 * time.Millisecond, 2 * time.Second, 10 * time.Second} {
		m.HandshakeDone("ok", d)
	}
	mf := family(t, reg, "tether_handshake_duration_seconds")
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("tether_handshake_duration_seconds is not exposed as one histogram: %v", mf)
	}
	h := mf.GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 5 {
		t.Errorf("histogram counted %d handshakes, want 5", h.GetSampleCount())
	}
	if got, want := h.GetSampleSum(), 12.00320; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("histogram sum = %v s, want %v s", got, want)
	}
	buckets := h.GetBucket()
	if first, last := buckets[0].GetUpperBound(), buckets[len(buckets)-1].GetUpperBound(); first != 0.0001 || last != 5 {
		t.Errorf("buckets span %v s to %v s, want 100µs to 5s", first, last)
	}
	cumulative := map[float64]uint64{0.0001: 1, 0.00025: 2, 0.005: 3, 1: 3, 2.5: 4, 5: 4}
	for _, b := range buckets {
		if want, ok := cumulative[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v holds %d handshakes, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

func TestMessageTypeCardinalityIsBounded(t *testing.T) {
	m, reg := newMetrics(t)
	known := len(testmsg.NewRegistry().Types())
	for i := range 1000 {
		typ := fmt.Sprintf("bogus.%d", i)
		m.MessageIn(typ, 10)
		m.MessageOut(typ, 10)
	}
	for _, name := range []string{"tether_messages_in_total", "tether_messages_out_total"} {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatalf("GatherAndCount: %v", err)
		}
		// One series per registered type, plus unknown and malformed.
		if n != known+2 {
			t.Errorf("%s has %d series after 1,000 distinct bogus types, want %d (registered types + unknown + malformed)", name, n, known+2)
		}
	}
	expect(t, reg,
		sample{"tether_messages_in_total", `type="unknown"`, 1000},
		sample{"tether_messages_out_total", `type="unknown"`, 1000},
		sample{"tether_bytes_in_total", "", 10000},
	)
}

func TestCloseCodeCardinalityIsBounded(t *testing.T) {
	m, reg := newMetrics(t)
	before, err := testutil.GatherAndCount(reg, "tether_connections_closed_total")
	if err != nil {
		t.Fatalf("GatherAndCount: %v", err)
	}
	for code := 3000; code < 5000; code++ {
		m.ConnClosed(code)
	}
	after, err := testutil.GatherAndCount(reg, "tether_connections_closed_total")
	if err != nil {
		t.Fatalf("GatherAndCount: %v", err)
	}
	if after != before {
		t.Errorf("closing with 2,000 client-chosen codes grew tether_connections_closed_total from %d to %d series", before, after)
	}
	// 4000–4003 are Tether's; the other 1,996 are "other".
	expect(t, reg,
		sample{"tether_connections_closed_total", `code="other"`, 1996},
		sample{"tether_connections_closed_total", `code="4002"`, 1},
	)
}

// TestCustomTypeRegistry: an app's types are labels once the server hands
// its registry over (Types), not before; the system messages are from New.
func TestCustomTypeRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	types := testmsg.NewRegistry()
	m, err := metrics.New(metrics.Config{Prometheus: reg})
	if err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	m.MessageIn("chat.send", 1)
	m.MessageIn("ping", 1)
	expect(t, reg, sample{"tether_messages_in_total", `type="unknown"`, 1}, sample{"tether_messages_in_total", `type="ping"`, 1})
	m.Types(types)
	for _, typ := range types.Types() {
		m.MessageIn(typ, 1)
	}
	for _, typ := range types.Types() {
		want := 1.0
		if typ == "ping" { // counted once before Types too
			want = 2
		}
		expect(t, reg, sample{"tether_messages_in_total", fmt.Sprintf("type=%q", typ), want})
	}
	expect(t, reg, sample{"tether_messages_in_total", `type="unknown"`, 1})
}

func TestAPIInstrumentation(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		handler http.HandlerFunc
		want    string // labels of the one series counted
	}{
		{"push ok", "POST", "/api/push", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"delivered":1}`)
		}, `route="push",status="200"`},
		{"kick without a body", "POST", "/api/kick", func(w http.ResponseWriter, r *http.Request) {}, `route="kick",status="200"`},
		{"presence bad request", "GET", "/api/presence", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "room is required", http.StatusBadRequest)
		}, `route="presence",status="400"`},
		{"connections unauthorized", "GET", "/api/connections", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
		}, `route="connections",status="401"`},
		{"stats rate limited", "GET", "/api/stats", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		}, `route="stats",status="429"`},
		{"early hints then created", "POST", "/api/push", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, `route="push",status="201"`},
		{"status written twice keeps the first", "POST", "/api/push", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			w.WriteHeader(http.StatusOK)
		}, `route="push",status="403"`},
		{"unknown path", "GET", "/api/secrets/../../etc/passwd", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, `route="other",status="404"`},
		{"subpath of a route", "POST", "/api/push/extra", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, `route="other",status="404"`},
		{"streaming flush", "GET", "/api/stats", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through the instrumented writer: %v", err)
			}
		}, `route="stats",status="200"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			h := m.InstrumentAPI(tt.handler)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
			mf := family(t, reg, "tether_api_requests_total")
			if mf == nil || len(mf.GetMetric()) != 1 {
				t.Fatalf("want exactly one tether_api_requests_total series after one request, got %v", mf)
			}
			if got := labelsOf(mf.GetMetric()[0]); got != tt.want {
				t.Errorf("request counted as {%s}, want {%s}", got, tt.want)
			}
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("request counted %v times, want 1", v)
			}
		})
	}
}

func TestAPIInstrumentationPassesResponseThrough(t *testing.T) {
	m, _ := newMetrics(t)
	h := m.InstrumentAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"closed":2}`)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/kick", nil))
	if rec.Code != http.StatusAccepted || rec.Body.String() != `{"closed":2}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("instrumented API answered %d %q %q, want the handler's 202, JSON body and content type",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

// fakeStats is a StatsSource whose values the test sets.
type fakeStats struct {
	mu    sync.Mutex
	st    server.Stats
	calls atomic.Int64
}

func (f *fakeStats) Stats(context.Context) (server.Stats, server.Coverage, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, server.Coverage{Nodes: 1, Answered: 1}, nil
}

func (f *fakeStats) set(st server.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

func TestWatchServerGauges(t *testing.T) {
	m, reg := newMetrics(t)
	src := &fakeStats{st: server.Stats{Connections: 12, Users: 7, Rooms: 3, MessagesIn: 99}}
	if err := m.WatchServer(src); err != nil {
		t.Fatalf("WatchServer: %v", err)
	}
	tests := []struct {
		st   server.Stats
		want []sample
	}{
		{server.Stats{Connections: 12, Users: 7, Rooms: 3}, []sample{
			{"tether_connections", "", 12}, {"tether_users", "", 7}, {"tether_rooms", "", 3},
		}},
		{server.Stats{Connections: 0, Users: 0, Rooms: 1}, []sample{
			{"tether_connections", "", 0}, {"tether_users", "", 0}, {"tether_rooms", "", 1},
		}},
	}
	for i, tt := range tests {
		src.set(tt.st)
		before := src.calls.Load()
		expect(t, reg, tt.want...) // three gathers
		if calls := src.calls.Load() - before; calls != int64(len(tt.want)) {
			t.Errorf("step %d: %d gathers called Stats %d times, want once per scrape", i, len(tt.want), calls)
		}
	}
	if err := m.WatchServer(src); err == nil {
		t.Error("a second WatchServer on the same registry succeeded; its gauges would be exposed twice")
	}
}

func TestHandlerExposesEverything(t *testing.T) {
	m, _ := newMetrics(t)
	if err := m.WatchServer(&fakeStats{st: server.Stats{Connections: 2, Users: 1}}); err != nil {
		t.Fatalf("WatchServer: %v", err)
	}
	m.HandshakeDone("ok", 2*time.Millisecond)
	m.MessageIn("ping", 20)
	m.ConnClosed(1000)
	hs := httptest.NewServer(m.Handler())
	defer hs.Close()
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics answered %d %q, want 200 in the text format", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		`tether_handshakes_total{outcome="ok"} 1`,
		`tether_handshake_duration_seconds_count 1`,
		`tether_handshake_duration_seconds_bucket{le="0.0025"} 1`,
		`tether_messages_in_total{type="ping"} 1`,
		`tether_bytes_in_total 20`,
		`tether_connections_closed_total{code="1000"} 1`,
		`tether_connections 2`,
		`tether_users 1`,
		`tether_rooms 0`,
		`tether_rate_limited_total 0`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
		"# TYPE promhttp_metric_handler_requests_total counter",
	} {
		if !strings.Contains(string(body), "\n"+line+"\n") {
			t.Errorf("/metrics lacks the line %q", line)
		}
	}
}

func TestMetricNamesPassPromlint(t *testing.T) {
	m, reg := newMetrics(t)
	if err := m.WatchServer(&fakeStats{}); err != nil {
		t.Fatalf("WatchServer: %v", err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, metrics.Namespace+"_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestNewOnSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	// A registry that already has the Go collector: New keeps it.
	reg.MustRegister(collectors.NewGoCollector())
	if _, err := metrics.New(metrics.Config{Prometheus: reg}); err != nil {
		t.Fatalf("New on a registry holding the Go collector: %v", err)
	}
	if _, err := metrics.New(metrics.Config{Prometheus: reg}); err == nil {
		t.Fatal("a second New on the same registry succeeded; every metric would be exposed twice")
	}
	// The zero Config works on a registry of its own.
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatalf("New(Config{}): %v", err)
	}
	if m.Prometheus() == nil || m.Prometheus() == reg {
		t.Error("New(Config{}) did not create a registry of its own")
	}
}

func TestObserverConcurrentUse(t *testing.T) {
	m, reg := newMetrics(t)
	const workers, each = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m.MessageIn("chat.send", 10)
				m.MessageOut("chat.message", 20)
				if i%100 == 0 {
					m.HandshakeDone("ok", time.Duration(w+1)*time.Millisecond)
					m.ConnClosed(1000)
				}
			}
		}()
	}
	wg.Wait()
	expect(t, reg,
		sample{"tether_messages_in_total", `type="chat.send"`, workers * each},
		sample{"tether_messages_out_total", `type="chat.message"`, workers * each},
		sample{"tether_bytes_in_total", "", workers * each * 10},
		sample{"tether_bytes_out_total", "", workers * each * 20},
		sample{"tether_handshakes_total", `outcome="ok"`, workers * each / 100},
		sample{"tether_connections_closed_total", `code="1000"`, workers * each / 100},
	)
}

func TestObserverDoesNotAllocate(t *testing.T) {
	m, _ := newMetrics(t)
	calls := map[string]func(){
		"MessageIn known":   func() { m.MessageIn("chat.send", 64) },
		"MessageIn unknown": func() { m.MessageIn("no.such.type", 64) },
		"MessageIn \"\"":    func() { m.MessageIn("", 64) },
		"MessageOut":        func() { m.MessageOut("chat.message", 128) },
		"MessagesOut":       func() { m.MessagesOut("chat.message", 16, 16*128) },
		"HandshakeDone":     func() { m.HandshakeDone("ok", time.Millisecond) },
		"ConnClosed":        func() { m.ConnClosed(4002) },
		"Dropped":           func() { m.Dropped("slow_consumer") },
	}
	for name, call := range calls {
		if n := testing.AllocsPerRun(100, call); n != 0 {
			t.Errorf("%s allocates %v times per call; it runs on every frame of every connection", name, n)
		}
	}
}

func BenchmarkObserver(b *testing.B) {
	m, _ := newMetrics(b)
	cases := []struct {
		name string
		op   func()
	}{
		{"MessageIn/known", func() { m.MessageIn("chat.send", 64) }},
		{"MessageIn/unknown", func() { m.MessageIn("no.such.type", 64) }},
		{"MessageIn/malformed", func() { m.MessageIn("", 64) }},
		{"MessageOut/known", func() { m.MessageOut("chat.message", 128) }},
		{"MessagesOut/batch16", func() { m.MessagesOut("chat.message", 16, 16*128) }},
		{"HandshakeDone", func() { m.HandshakeDone("ok", 300*time.Microsecond) }},
		{"ConnClosed", func() { m.ConnClosed(1000) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.op()
			}
		})
	}
	b.Run("MessageOut/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.MessageOut("chat.message", 128)
			}
		})
	})
}
