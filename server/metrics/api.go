package metrics

import (
	"net/http"
	"strconv"
)

// apiRoutes maps the HTTP API's paths (docs/api.md) to their route label;
// every other path is Other.
var apiRoutes = map[string]string{
	"/api/push":        "push",
	"/api/kick":        "kick",
	"/api/presence":    "presence",
	"/api/connections": "connections",
	"/api/stats":       "stats",
}

// InstrumentAPI returns h counting every request it answers in
// tether_api_requests_total{route,status}: route is push, kick, presence,
// connections or stats for those paths of docs/api.md and "other" for any
// other, status the HTTP status code (200 when h wrote none). Wrap the
// handler of server/api with it, mounted at "/api/".
func (m *Metrics) InstrumentAPI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := apiRoutes[r.URL.Path]
		if !ok {
			route = Other
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		// WriteHeader accepts 100–999 only, so the label set is bounded.
		m.apiRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	})
}

// statusWriter records the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int // the final status written; 0 until then
}

// WriteHeader implements http.ResponseWriter. Informational (1xx) headers
// other than 101 may precede the final status: they are not recorded.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter; it implies status 200.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher for handlers that stream; it implies status
// 200 and does nothing when the underlying writer cannot flush.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
