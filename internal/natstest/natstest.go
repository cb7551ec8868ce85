// Package natstest runs an embedded nats-server for the tests of a
// cluster (broker/nats, the browser end-to-end tests), written once.
// It is apart from tethertest so that only the tests that need NATS link
// nats-server.
package natstest

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Start runs a nats-server with JetStream on 127.0.0.1:port (0: a free
// port) that stores under storeDir, waits up to 10s for it to accept
// connections, and shuts it down when the test ends.
func Start(t testing.TB, storeDir string, port int) *natsserver.Server {
	t.Helper()
	if port == 0 {
		port = -1 // nats-server's "any free port"; 0 would be 4222
	}
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	return ns
}
