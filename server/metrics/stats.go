package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetherkit/tether/server"
)

// StatsSource is what WatchServer reads the gauges from: a *server.Server.
type StatsSource interface {
	Stats() server.Stats
}

// HistorySource is a StatsSource that also reports the in-memory
// broker's history memory: a *server.Server.
type HistorySource interface {
	HistoryMemory() (server.HistoryMemory, bool)
}

// WatchServer registers the gauges tether_connections, tether_users and
// tether_rooms, read from s.Stats() once per scrape, and, when s is a
// HistorySource with the in-memory broker, the gauges
// tether_history_bytes and tether_history_budget_bytes and the counter
// tether_history_trimmed_total. It fails when called a second time on the
// same registry.
func (m *Metrics) WatchServer(s StatsSource) error {
	if err := m.reg.Register(&statsCollector{src: s}); err != nil {
		return fmt.Errorf("metrics: watch server: %w", err)
	}
	return nil
}

// The gauges of statsCollector.
var (
	connectionsDesc = prometheus.NewDesc(Namespace+"_connections", "Open WebSocket connections.", nil, nil)
	usersDesc       = prometheus.NewDesc(Namespace+"_users", "Distinct users connected.", nil, nil)
	roomsDesc       = prometheus.NewDesc(Namespace+"_rooms", "Rooms with members or history.", nil, nil)

	historyBytesDesc   = prometheus.NewDesc(Namespace+"_history_bytes", "Bytes held by the history of all rooms (in-memory broker).", nil, nil)
	historyBudgetDesc  = prometheus.NewDesc(Namespace+"_history_budget_bytes", "The history memory budget of all rooms (in-memory broker); 0: none.", nil, nil)
	historyTrimmedDesc = prometheus.NewDesc(Namespace+"_history_trimmed_total", "Room messages dropped from history to keep within the memory budget.", nil, nil)
)

// statsCollector reports the gauges of one StatsSource. Unlike three
// GaugeFuncs it calls Stats once per scrape, so the three values are read
// together and the server's locks are taken once.
type statsCollector struct {
	src StatsSource
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectionsDesc
	ch <- usersDesc
	ch <- roomsDesc
	ch <- historyBytesDesc
	ch <- historyBudgetDesc
	ch <- historyTrimmedDesc
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(st.Connections))
	ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(st.Users))
	ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(st.Rooms))
	if hs, ok := c.src.(HistorySource); ok {
		if hm, ok := hs.HistoryMemory(); ok {
			ch <- prometheus.MustNewConstMetric(historyBytesDesc, prometheus.GaugeValue, float64(hm.Bytes))
			ch <- prometheus.MustNewConstMetric(historyBudgetDesc, prometheus.GaugeValue, float64(hm.Budget))
			ch <- prometheus.MustNewConstMetric(historyTrimmedDesc, prometheus.CounterValue, float64(hm.Trimmed))
		}
	}
}
