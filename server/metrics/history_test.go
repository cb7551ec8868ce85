package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
)

// TestHistoryMemoryMetrics: a server whose history outgrows its budget
// exposes the bytes it holds, the budget and the messages trimmed, as the
// server itself counts them, and the names pass promlint.
func TestHistoryMemoryMetrics(t *testing.T) {
	const budget = 256 << 10
	mb := memory.New(memory.Config{HistoryMemory: budget, HistoryBytes: 32 << 10})
	t.Cleanup(func() { _ = mb.Close() })
	srv, err := server.New(server.Config{Broker: mb, Authenticate: server.InsecureQueryIdentity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	m, reg := newMetrics(t)
	if err := m.WatchServer(srv); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchMemory(mb); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 1000)
	for i := range 1000 { // 1 MB into 50 rooms: four times the budget
		if _, _, err := srv.Publish(context.Background(), fmt.Sprint("room-", i%50), testmsg.Notification{Title: "t", Body: text}); err != nil {
			t.Fatal(err)
		}
	}
	hm := mb.Stats()
	if hm.HistoryBytes > budget || hm.HistoryBytes == 0 || hm.Trimmed == 0 || hm.HistoryBudget != budget {
		t.Fatalf("memory broker Stats = %+v; want 0 < bytes ≤ %d, some trimmed", hm, budget)
	}
	t.Logf("history: %d bytes of a %d budget, %d messages trimmed", hm.HistoryBytes, hm.HistoryBudget, hm.Trimmed)
	expect(t, reg,
		sample{"tether_history_bytes", "", float64(hm.HistoryBytes)},
		sample{"tether_history_budget_bytes", "", budget},
		sample{"tether_history_trimmed_total", "", float64(hm.Trimmed)},
	)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "tether_history") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
