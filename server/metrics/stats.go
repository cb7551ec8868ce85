package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/server"
)

// StatsSource is what WatchServer reads the gauges from: a *server.Server.
type StatsSource interface {
	Stats(ctx context.Context) (server.Stats, server.Coverage, error)
}

// MemorySource is what WatchMemory reads the history gauges from: a
// *memory.Broker.
type MemorySource interface {
	Stats() memory.Stats
}

// statsTimeout bounds the Stats call of one scrape: in a cluster it asks the
// other nodes.
const statsTimeout = 2 * time.Second

// WatchServer registers the gauges tether_connections, tether_users and
// tether_rooms, read from s.Stats once per scrape: in a cluster they are the
// cluster's (every node answers the same, as far as the nodes answered
// within 2s; a node that did not is left out and logged). It fails when
// called a second time on the same registry.
func (m *Metrics) WatchServer(s StatsSource) error {
	if err := m.reg.Register(&statsCollector{src: s, log: m.log}); err != nil {
		return fmt.Errorf("metrics: watch server: %w", err)
	}
	return nil
}

// WatchMemory registers the gauges tether_history_bytes and
// tether_history_budget_bytes and the counter tether_history_trimmed_total,
// read from the memory broker's Stats once per scrape. It fails when called
// a second time on the same registry.
func (m *Metrics) WatchMemory(b MemorySource) error {
	if err := m.reg.Register(&memoryCollector{src: b}); err != nil {
		return fmt.Errorf("metrics: watch memory broker: %w", err)
	}
	return nil
}

// The gauges of statsCollector.
var (
	connectionsDesc = prometheus.NewDesc(Namespace+"_connections", "Open WebSocket connections.", nil, nil)
	usersDesc       = prometheus.NewDesc(Namespace+"_users", "Distinct users connected.", nil, nil)
	roomsDesc       = prometheus.NewDesc(Namespace+"_rooms", "Rooms with members.", nil, nil)

	historyBytesDesc   = prometheus.NewDesc(Namespace+"_history_bytes", "Bytes held by the history of all rooms (in-memory broker).", nil, nil)
	historyBudgetDesc  = prometheus.NewDesc(Namespace+"_history_budget_bytes", "The history memory budget of all rooms (in-memory broker); 0: none.", nil, nil)
	historyTrimmedDesc = prometheus.NewDesc(Namespace+"_history_trimmed_total", "Room messages dropped from history to keep within the memory budget.", nil, nil)
)

// statsCollector reports the gauges of one StatsSource. Unlike three
// GaugeFuncs it calls Stats once per scrape, so the three values are read
// together and the server's locks are taken once.
type statsCollector struct {
	src StatsSource
	log *slog.Logger
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectionsDesc
	ch <- usersDesc
	ch <- roomsDesc
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, cov, err := c.src.Stats(ctx)
	if err != nil {
		c.log.Warn("metrics: stats of some nodes missing", "nodes", cov.Nodes, "answered", cov.Answered, "err", err)
	}
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(st.Connections))
	ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(st.Users))
	ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(st.Rooms))
}

// memoryCollector reports the history gauges of a memory broker.
type memoryCollector struct {
	src MemorySource
}

// Describe implements prometheus.Collector.
func (c *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- historyBytesDesc
	ch <- historyBudgetDesc
	ch <- historyTrimmedDesc
}

// Collect implements prometheus.Collector.
func (c *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	ch <- prometheus.MustNewConstMetric(historyBytesDesc, prometheus.GaugeValue, float64(st.HistoryBytes))
	ch <- prometheus.MustNewConstMetric(historyBudgetDesc, prometheus.GaugeValue, float64(st.HistoryBudget))
	ch <- prometheus.MustNewConstMetric(historyTrimmedDesc, prometheus.CounterValue, float64(st.Trimmed))
}
