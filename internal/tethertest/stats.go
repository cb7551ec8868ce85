package tethertest

import (
	"context"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Stats returns srv.Stats, failing the test when it fails (a single node's
// never does).
func Stats(t testing.TB, srv *server.Server) server.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, _, err := srv.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// Connections returns srv.Connections, failing the test when it fails.
func Connections(t testing.TB, srv *server.Server) []server.ConnInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	infos, _, err := srv.Connections(ctx)
	if err != nil {
		t.Fatalf("Connections: %v", err)
	}
	return infos
}

// Memory returns a memory broker configured by cfg, closed when the test
// ends (after the servers it serves, which the test's earlier cleanups
// shut down).
func Memory(t testing.TB, cfg memory.Config) *memory.Broker {
	b := memory.New(cfg)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Presence returns srv.Presence of room, failing the test when it fails.
func Presence(t testing.TB, srv *server.Server, room string) []shared.Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	members, err := srv.Presence(ctx, room)
	if err != nil {
		t.Fatalf("Presence: %v", err)
	}
	return members
}
