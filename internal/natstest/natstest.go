// Package natstest runs an embedded nats-server for the tests of a
// cluster (broker/nats, the browser end-to-end tests), written once.
// It is apart from tethertest so that only the tests that need NATS link
// nats-server.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/tetherkit/tether/internal/tethertest"
)

// readyTimeout is how long a server may take to accept connections. A
// JetStream server with a store starts in well under a second on a quiet
// machine; on a loaded 2-core CI machine one took more than 10 s.
const readyTimeout = 30 * time.Second

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
	if !ns.ReadyForConnections(readyTimeout) {
		t.Fatalf("nats-server not ready within %v", readyTimeout)
	}
	return ns
}

// Restart shuts ns down, waits until it has stopped, and runs a new
// nats-server on the same port with the store under storeDir (the one ns
// was started with): a NATS restart as its clients see it, the same URL and
// the same streams. The new server is shut down when the test ends.
func Restart(t testing.TB, ns *natsserver.Server, storeDir string) *natsserver.Server {
	t.Helper()
	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	return Start(t, storeDir, port)
}

// Cluster is an in-process cluster of nats-servers with JetStream, joined
// by routes on 127.0.0.1, for the tests of what a cluster survives: kill a
// server (Kill) and bring it back (Restart) with its store, name and ports.
//
// Every server is reached, by clients and by the other servers' routes,
// through two CutProxies of its own, so that Kill is a crash as the others
// see it: its connections are reset and nothing it says while it shuts down
// gets out (no leader step-down, no consumer-deleted notice).
type Cluster struct {
	t            testing.TB
	Servers      []*natsserver.Server // by index; a killed one is nil until Restart
	opts         []*natsserver.Options
	clients      []*tethertest.CutProxy // in front of each server's client port
	routeProxies []*tethertest.CutProxy // in front of each server's route port
}

// StartCluster runs n nats-servers named n1…nN, each storing under its own
// temporary directory, routes between all of them, and waits up to 20s for
// JetStream to have a meta leader with all of them as peers. They shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Servers: make([]*natsserver.Server, n), opts: make([]*natsserver.Options, n),
		clients: make([]*tethertest.CutProxy, n), routeProxies: make([]*tethertest.CutProxy, n)}
	stores := make([]string, n) // made first: removed after the servers are down
	for i := range stores {
		stores[i] = t.TempDir()
	}
	t.Cleanup(func() {
		for i := range c.Servers {
			c.Kill(i)
		}
	})
	// JetStream in a cluster needs its routes from the start, so the route
	// ports are chosen first; a restart keeps every port.
	for i := range n {
		port, routePort := freePort(t), freePort(t)
		c.clients[i] = tethertest.NewCutProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		c.routeProxies[i] = tethertest.NewCutProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(routePort)))
		c.opts[i] = &natsserver.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: port, ClientAdvertise: c.clients[i].Addr(),
			JetStream: true, StoreDir: stores[i],
			Cluster: natsserver.ClusterOpts{Name: "tether-test", Host: "127.0.0.1", Port: routePort, Advertise: c.routeProxies[i].Addr()},
			NoLog:   true, NoSigs: true,
		}
	}
	for i := range n {
		c.opts[i].Routes = c.routes(i)
		c.start(i)
	}
	c.waitMetaLeader()
	return c
}

// freePort is a TCP port of 127.0.0.1 free at the moment.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// routes are the route URLs of the servers other than i that have a port.
func (c *Cluster) routes(i int) []*url.URL {
	var rs []*url.URL
	for j, p := range c.routeProxies {
		if j != i {
			rs = append(rs, &url.URL{Scheme: "nats-route", Host: p.Addr()})
		}
	}
	return rs
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	ns, err := natsserver.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatalf("nats-server %s: %v", c.opts[i].ServerName, err)
	}
	ns.Start()
	c.Servers[i] = ns
	if !ns.ReadyForConnections(readyTimeout) {
		c.t.Fatalf("nats-server %s not ready within %v", c.opts[i].ServerName, readyTimeout)
	}
}

// waitMetaLeader waits up to 20s for JetStream's meta leader to count
// every server as its peer.
func (c *Cluster) waitMetaLeader() {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, ns := range c.Servers {
			if ns != nil && ns.JetStreamIsLeader() && len(ns.JetStreamClusterPeers()) == len(c.Servers) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("nats cluster: no JetStream meta leader with every server as its peer within 20s")
}

// URLs is the client URLs of every server, comma-separated, for
// nats.Connect: a client reconnects to the others when its server dies.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.opts))
	for i := range c.opts {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// URL is the client URL of server i.
func (c *Cluster) URL(i int) string { return "nats://" + c.clients[i].Addr() }

// Kill crashes server i, if it runs: its connections are reset (its clients
// lose it, its peers stop hearing from it), then it shuts down unheard.
func (c *Cluster) Kill(i int) {
	if ns := c.Servers[i]; ns != nil {
		c.clients[i].Shut()
		c.routeProxies[i].Shut()
		ns.Shutdown()
		ns.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Restart starts server i again, with its name, store and ports.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.clients[i].Open()
	c.routeProxies[i].Open()
	c.start(i)
}

// StreamLeader is the index of the server that leads stream (of the
// global account), or -1 when none does now.
func (c *Cluster) StreamLeader(stream string) int {
	for i, ns := range c.Servers {
		if ns != nil && ns.JetStreamIsStreamLeader(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// HaveLeaders reports whether each of streams (of the global account; a KV
// bucket B is stream KV_B) has a leader among the running servers.
func (c *Cluster) HaveLeaders(streams ...string) bool {
	for _, st := range streams {
		if c.StreamLeader(st) < 0 {
			return false
		}
	}
	return true
}
