package metrics_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/metrics"
)

// A server observed by Metrics, with its gauges and the /metrics page.
func Example() {
	types := testmsg.NewRegistry()
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: types, Observer: m})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if err := m.WatchServer(srv); err != nil {
		log.Fatal(err)
	}

	// What the server reports on its hot paths:
	m.HandshakeDone("ok", 800*time.Microsecond)
	m.MessageIn("chat.send", 42)
	m.MessageIn("something.made.up", 10)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		for _, prefix := range []string{`tether_handshakes_total{outcome="ok"}`, `tether_messages_in_total{type="chat.send"}`,
			`tether_messages_in_total{type="unknown"}`, "tether_bytes_in_total", "tether_connections "} {
			if strings.HasPrefix(line, prefix) {
				fmt.Print(line)
			}
		}
	}
	// Output:
	// tether_bytes_in_total 52
	// tether_connections 0
	// tether_handshakes_total{outcome="ok"} 1
	// tether_messages_in_total{type="chat.send"} 1
	// tether_messages_in_total{type="unknown"} 1
}
