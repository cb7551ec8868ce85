package memory_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/brokertest"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/shared"
)

// TestMapTTLBookkeeping drives the memory map's expiries with a fake clock
// (a write applies the expiries that are due): a key written again with a
// later TTL, written again without one, or deleted does not expire at its
// old time; keys due at once expire in order of time, then key.
func TestMapTTLBookkeeping(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	b := memory.New(memory.Config{Clock: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	t.Cleanup(func() { _ = b.Close() })
	feed := brokertest.NewFeed()
	st, err := b.OpenMap(context.Background(), "ttl", feed)
	if err != nil {
		t.Fatal(err)
	}
	write := func(w broker.MapWrite) {
		t.Helper()
		if w.Value == nil && !w.Delete {
			w.Value = []byte(`1`)
		}
		if _, err := st.Write(context.Background(), w); err != nil {
			t.Fatalf("write %q: %v", w.Key, err)
		}
	}
	expired := func() []string {
		var out []string
		for _, c := range feed.Changes() {
			if c.Op == shared.MapOpExpire {
				out = append(out, c.Key)
			}
		}
		return out
	}
	write(broker.MapWrite{Key: "extended", TTL: 10 * time.Second})
	write(broker.MapWrite{Key: "short", TTL: 5 * time.Second})
	write(broker.MapWrite{Key: "deleted", TTL: 5 * time.Second})
	write(broker.MapWrite{Key: "kept", TTL: 5 * time.Second})
	write(broker.MapWrite{Key: "kept"}) // no TTL any more
	write(broker.MapWrite{Key: "deleted", Delete: true})
	write(broker.MapWrite{Key: "extended", TTL: 20 * time.Second})
	write(broker.MapWrite{Key: "z", TTL: 30 * time.Second})
	write(broker.MapWrite{Key: "y", TTL: 30 * time.Second})
	write(broker.MapWrite{Key: "x", TTL: 29 * time.Second})

	steps := []struct {
		at   time.Duration
		want []string
	}{
		{6 * time.Second, []string{"short"}},
		{15 * time.Second, []string{"short"}},
		{21 * time.Second, []string{"short", "extended"}},
		{31 * time.Second, []string{"short", "extended", "x", "y", "z"}},
	}
	for _, s := range steps {
		at(s.at)
		write(broker.MapWrite{Key: "tick"})
		if got := expired(); !slices.Equal(got, s.want) {
			t.Fatalf("at +%v the expiries were %v, want %v", s.at, got, s.want)
		}
	}
	if state, _, _ := feed.State(); len(state) != 2 || state["kept"] != "1" || state["tick"] != "1" {
		t.Errorf("the map holds %v, want kept and tick", state)
	}
	if err := feed.Err(); err != nil {
		t.Error(err)
	}
}
