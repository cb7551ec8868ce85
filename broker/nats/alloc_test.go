package natsbroker_test

import (
	"context"
	"runtime"
	"testing"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/server"
)

// TestHistoryReadAllocatesLittle: reading a room's history (what every join
// does) allocates about what it reads, not a 512 KiB reply channel per read
// as nats.go's SubscribeSync would: a connection storm of joins must not
// leave the process at the size its garbage grew it to. Measured as the
// bytes the whole process allocates per read, the embedded NATS server's
// included.
func TestHistoryReadAllocatesLittle(t *testing.T) {
	_, nodes := startCluster(t, 1, natsbroker.Config{HistorySize: 10}, server.Config{})
	b := nodes[0].broker
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	for i := range 5 {
		if _, err := b.Publish(ctx, "alloc", "note", func(seq uint64) ([]byte, error) { return []byte(`{"n":1}`), nil }); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	read := func() {
		h, err := b.HistoryBefore(ctx, "alloc", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Publications) != 5 {
			t.Fatalf("history has %d publications, want 5", len(h.Publications))
		}
	}
	read() // warm up
	const reads = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range reads {
		read()
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / reads
	t.Logf("%d bytes allocated per history read", per)
	if per > 128<<10 {
		t.Errorf("a history read allocates %d bytes, want under 128 KiB (a reply subscription with nats.go's default channel of 65,536 messages is 512 KiB)", per)
	}
}
