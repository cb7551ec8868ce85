package metrics_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/metrics"
	"github.com/tetherkit/tether/shared"
)

// Vote is a message type of the app's own (declared in its module).
type Vote struct {
	Choice string `json:"choice"`
}

// MessageType implements shared.Message.
func (Vote) MessageType() string { return "poll.vote" }

// A server observed by Metrics, with its gauges and the /metrics page. The
// metrics learn the server's message types from the server itself.
func Example() {
	types := shared.NewRegistry()
	shared.Register[Vote](types)
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: types, Observer: m, Authenticate: server.InsecureQueryIdentity})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if err := m.WatchServer(srv); err != nil {
		log.Fatal(err)
	}

	// What the server reports on its hot paths:
	m.HandshakeDone("ok", 800*time.Microsecond)
	m.MessageIn("poll.vote", 42)
	m.MessageIn("something.made.up", 10)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		for _, prefix := range []string{`tether_handshakes_total{outcome="ok"}`, `tether_messages_in_total{type="poll.vote"}`,
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
	// tether_messages_in_total{type="poll.vote"} 1
	// tether_messages_in_total{type="unknown"} 1
}
