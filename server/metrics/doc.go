// Package metrics exposes a Tether server's metrics in the Prometheus text
// format, on a registry of its own (never the global default one).
//
// A *Metrics is the server's Observer: it counts handshakes and their
// latency, closes by code, messages and bytes in and out by message type,
// dropped frames, slow-consumer and heartbeat closes and rate-limited
// messages. WatchServer adds the gauges read from the server at scrape time
// (connections, users, rooms: in a cluster, the cluster's), WatchMemory
// those of a memory broker's history, InstrumentAPI counts the HTTP API's
// requests, and Handler serves everything at /metrics, with the Go runtime
// and process collectors:
//
//	m, err := metrics.New(metrics.Config{Logger: logger})
//	...
//	mb := memory.New(memory.Config{})
//	srv, err := server.New(server.Config{Registry: reg, Observer: m, Broker: mb, Authenticate: a.Authenticate})
//	if err != nil { ... }
//	if err := m.WatchServer(srv); err != nil { ... }
//	if err := m.WatchMemory(mb); err != nil { ... }
//	mux.Handle("/ws", srv)
//	mux.Handle("/api/", m.InstrumentAPI(apiHandler))
//	mux.Handle("GET /metrics", m.Handler())
//
// The metrics:
//
//	tether_handshakes_total{outcome}            ok, unauthorized, forbidden_origin, banned, too_many, failed, other
//	tether_handshake_duration_seconds           histogram, 100µs … 5s
//	tether_connections_closed_total{code}       "1000" … "1015", "4000" … "4003", other
//	tether_messages_in_total{type}              registered type, unknown, malformed
//	tether_messages_out_total{type}             registered type, unknown
//	tether_bytes_in_total, tether_bytes_out_total
//	tether_dropped_total{reason}                slow_consumer, closed, other
//	tether_slow_consumer_closes_total           closes with 4002
//	tether_heartbeat_timeouts_total             closes with 4003
//	tether_rate_limited_total                   client messages refused by the rate limit
//	tether_connections, tether_users, tether_rooms   gauges (WatchServer; a cluster's totals)
//	tether_history_bytes, tether_history_budget_bytes  gauges (WatchMemory, memory broker)
//	tether_history_trimmed_total                room messages dropped to keep the history budget (WatchMemory)
//	tether_api_requests_total{route,status}     push, kick, presence, connections, stats, other
//
// Label values are bounded whatever clients send: a message type is a label
// only when the server's registry knows it (the server hands it over through
// the Observer's Types; others are "unknown", an undecodable frame is
// "malformed"), close codes outside the registered ones are "other", and API
// routes outside the documented ones are "other". The Observer methods
// allocate nothing: every label child they use is created by New or Types.
package metrics
