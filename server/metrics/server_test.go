package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/metrics"
)

// waitTime bounds every wait of the server tests.
const waitTime = tethertest.Wait

// scrape returns the body of GET url.
func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, res.StatusCode, err)
	}
	return string(body)
}

// hasLine reports whether the exposition body has line as a whole line.
func hasLine(body, line string) bool {
	return strings.Contains("\n"+body, "\n"+line+"\n")
}

func TestRealServerIsObserved(t *testing.T) {
	types := testmsg.NewRegistry()
	m, err := metrics.New(metrics.Config{Prometheus: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	s := tethertest.NewServer(t, server.Config{Registry: types, Observer: m}, func(s *tethertest.Server) {
		if err := m.WatchServer(s.Server); err != nil {
			t.Fatalf("WatchServer: %v", err)
		}
		s.Mux.Handle("GET /metrics", m.Handler())
	})
	metricsURL := s.HTTP.URL + "/metrics"

	ws, _ := s.Dial(t, "alice")
	if body := scrape(t, metricsURL); !hasLine(body, "tether_connections 1") || !hasLine(body, "tether_users 1") {
		t.Errorf("with alice connected, /metrics does not show 1 connection and 1 user:\n%s", grepTether(body))
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":1}`)); err != nil {
		t.Fatalf("send ping: %v", err)
	}
	tethertest.ReadType(t, ws, "pong")

	// Close normally and wait for the server's answering close frame.
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(waitTime)); err != nil {
		t.Fatalf("send close: %v", err)
	}
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("closing: got %v, want the server's close 1000", err)
			}
			break
		}
	}

	// The server records the close after its goroutines stop: poll its state.
	var body string
	tethertest.Poll(t, "/metrics shows the close 1000 and 0 connections", func() error {
		body = scrape(t, metricsURL)
		if hasLine(body, `tether_connections_closed_total{code="1000"} 1`) && hasLine(body, "tether_connections 0") {
			return nil
		}
		return fmt.Errorf("after a normal close:\n%s", grepTether(body))
	})
	for _, line := range []string{
		`tether_handshakes_total{outcome="ok"} 1`,
		`tether_handshake_duration_seconds_count 1`,
		`tether_messages_in_total{type="ping"} 1`,
		`tether_messages_in_total{type="unknown"} 0`,
		`tether_messages_in_total{type="malformed"} 0`,
		`tether_messages_out_total{type="welcome"} 1`,
		`tether_messages_out_total{type="pong"} 1`,
		`tether_connections_closed_total{code="1000"} 1`,
		`tether_connections_closed_total{code="other"} 0`,
		`tether_bytes_in_total 22`, // len(`{"type":"ping","id":1}`)
		`tether_connections 0`,
		`tether_users 0`,
	} {
		if !hasLine(body, line) {
			t.Errorf("after one connect, ping and close, /metrics lacks %q", line)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepTether(body))
	}
}

// grepTether returns the tether_ sample lines of an exposition body.
func grepTether(body string) string {
	var b strings.Builder
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "tether_") {
			b.WriteString(line)
		}
	}
	return b.String()
}
