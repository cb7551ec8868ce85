package natsbroker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTime bounds every wait of these tests.
const waitTime = 15 * time.Second

// quiet is the logger of the nodes: warnings and errors only.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startNATS runs an embedded nats-server with JetStream on 127.0.0.1.
func startNATS(t testing.TB, storeDir string) *natsserver.Server {
	t.Helper()
	return natstest.Start(t, storeDir, 0)
}

// node is one Tether node of a test cluster.
type node struct {
	t      testing.TB
	name   string
	nc     *nats.Conn
	broker *natsbroker.Broker
	srv    *server.Server
	ts     *httptest.Server
	stop   func()
	once   sync.Once
}

// startNode starts a Tether node with the demo handlers on ns.
func startNode(t testing.TB, ns *natsserver.Server, name string, cfg natsbroker.Config, scfg server.Config) *node {
	t.Helper()
	return startNodeVia(t, ns.ClientURL(), name, cfg, scfg)
}

// connectNATS starts a NATS server for the test and connects to it; the
// connection is closed when the test ends.
func connectNATS(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(startNATS(t, t.TempDir()).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startNodeVia starts a Tether node connected to NATS at natsURL.
func startNodeVia(t testing.TB, natsURL, name string, cfg natsbroker.Config, scfg server.Config) *node {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conn, cfg.Node, cfg.Logger = nc, name, quiet
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	b, err := natsbroker.New(ctx, cfg)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	scfg.Broker, scfg.Logger = b, quiet
	if scfg.MessageRate == 0 {
		scfg.MessageRate = -1
	}
	if scfg.Registry == nil {
		scfg.Registry = testmsg.NewRegistry()
	}
	if scfg.Authenticate == nil {
		scfg.Authenticate = server.InsecureQueryIdentity
	}
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	tethertest.InstallChat(srv)
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	ts := httptest.NewServer(mux)
	n := &node{t: t, name: name, nc: nc, broker: b, srv: srv, ts: ts}
	n.stop = func() {
		sctx, scancel := context.WithTimeout(context.Background(), waitTime)
		defer scancel()
		_ = srv.Shutdown(sctx)
		ts.Close()
		_ = b.Close()
		nc.Close()
	}
	t.Cleanup(n.close)
	return n
}

// close stops the node cleanly (once).
func (n *node) close() { n.once.Do(n.stop) }

// kill stops the node abruptly: its NATS connection and its clients' TCP
// connections drop at once, nothing is cleaned up in NATS.
func (n *node) kill() {
	n.nc.Close()
	n.ts.CloseClientConnections()
	n.close()
}

func (n *node) wsURL(user string) string {
	return "ws" + strings.TrimPrefix(n.ts.URL, "http") + "/ws?user=" + user
}

func (n *node) addr() string { return strings.TrimPrefix(n.ts.URL, "http://") }

// startCluster starts NATS and n nodes named a, b, c...
func startCluster(t testing.TB, n int, cfg natsbroker.Config, scfg server.Config) (*natsserver.Server, []*node) {
	t.Helper()
	ns := startNATS(t, t.TempDir())
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, ns, string(rune('a'+i)), cfg, scfg)
	}
	return ns, nodes
}

// recorder keeps what a client received in a room: chat texts with seqs.
type recorder struct {
	mu     sync.Mutex
	texts  []string
	seqs   []uint64
	events []string // "join:user" / "leave:user"
	joins  []shared.Joined
	change chan struct{}
}

func newRecorder(c *client.Client) *recorder {
	r := &recorder{change: make(chan struct{}, 1)}
	client.OnMeta(c, func(m testmsg.ChatMessage, meta client.Meta) {
		r.mu.Lock()
		r.texts = append(r.texts, m.Text)
		r.seqs = append(r.seqs, meta.Seq)
		r.mu.Unlock()
		r.poke()
	})
	client.On(c, func(m shared.PresenceJoin) { r.event("join:" + m.Member.User) })
	client.On(c, func(m shared.PresenceLeave) { r.event("leave:" + m.Member.User) })
	c.OnJoined(func(j shared.Joined) {
		r.mu.Lock()
		r.joins = append(r.joins, j)
		r.mu.Unlock()
		r.poke()
	})
	return r
}

// subPub starts a recorded subscriber "sub" on subNode and a publisher
// "pub" on pubNode, both joined to room.
func subPub(t testing.TB, subNode, pubNode *node, room string) (*recorder, *client.Client) {
	t.Helper()
	sub := newClient(t, subNode, "sub")
	rec := newRecorder(sub)
	tethertest.Run(t, sub)
	join(t, sub, room, 0)
	pub := newClient(t, pubNode, "pub")
	tethertest.Run(t, pub)
	join(t, pub, room, 0)
	return rec, pub
}

func (r *recorder) event(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.change <- struct{}{}:
	default:
	}
}

// wait waits until cond holds on r (checked under r's lock).
func (r *recorder) wait(t *testing.T, what string, cond func(*recorder) bool) {
	t.Helper()
	deadline := time.After(waitTime)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.change:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%s: not within %v (have %d messages, events %v)", what, waitTime, len(r.texts), r.events)
		}
	}
}

func (r *recorder) snapshot() ([]string, []uint64, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...), append([]uint64(nil), r.seqs...), append([]string(nil), r.events...)
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// say sends a chat line and waits for its reply.
func say(t testing.TB, c *client.Client, room, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if _, err := client.Request[shared.Reply](ctx, c, testmsg.ChatSend{Room: room, Text: text}); err != nil {
		t.Fatalf("say %q: %v", text, err)
	}
}

func join(t testing.TB, c *client.Client, room string, history int) shared.Joined {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	j, err := c.Join(ctx, room, history)
	if err != nil {
		t.Fatalf("join %q: %v", room, err)
	}
	return j
}

// checkSeqs fails unless seqs are exactly 1..n.
func checkSeqs(t *testing.T, who string, seqs []uint64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("%s got %d messages, want %d", who, len(seqs), n)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("%s: message %d has seq %d, want %d (gap, repeat or disorder): %v", who, i, s, i+1, seqs)
		}
	}
}

// newClient makes a client of user on n with quick reconnects.
func newClient(t testing.TB, n *node, user string) *client.Client {
	t.Helper()
	return tethertest.NewClient(t, client.Config{URL: n.wsURL(user), MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: quiet})
}

// TestChatAcrossNodes: alice on node a and bob on node b chat in one room:
// both see every line with gap-free seqs, in one order, and each other's
// presence.
func TestChatAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2, natsbroker.Config{}, server.Config{})
	alice, bob := newClient(t, nodes[0], "alice"), newClient(t, nodes[1], "bob")
	ra, rb := newRecorder(alice), newRecorder(bob)
	tethertest.Run(t, alice)
	tethertest.Run(t, bob)
	join(t, alice, "lobby", 0)
	j := join(t, bob, "lobby", 0)
	if len(j.Members) != 2 {
		t.Errorf("bob's joined members = %v, want alice and bob", j.Members)
	}
	ra.wait(t, "alice sees bob join", func(r *recorder) bool { return has(r.events, "join:bob") })

	const lines = 20
	for i := range lines {
		c := alice
		if i%2 == 1 {
			c = bob
		}
		say(t, c, "lobby", fmt.Sprintf("line %02d", i))
	}
	for _, r := range []*recorder{ra, rb} {
		r.wait(t, "every line", func(r *recorder) bool { return len(r.texts) >= lines })
	}
	ta, sa, _ := ra.snapshot()
	tb, sb, _ := rb.snapshot()
	checkSeqs(t, "alice", sa, lines)
	checkSeqs(t, "bob", sb, lines)
	for i := range lines {
		if ta[i] != tb[i] || ta[i] != fmt.Sprintf("line %02d", i) {
			t.Fatalf("line %d: alice has %q, bob %q, want %q", i, ta[i], tb[i], fmt.Sprintf("line %02d", i))
		}
	}
	if got := tethertest.Presence(t, nodes[0].srv, "lobby"); len(got) != 2 {
		t.Errorf("node a's Presence(lobby) = %v, want alice and bob", got)
	}
	// A third node that has no member in the room answers too.
	bob.Close()
	ra.wait(t, "alice sees bob leave", func(r *recorder) bool { return has(r.events, "leave:bob") })
}

// TestNewRefusesNegativeConfig: a negative size, count or duration is
// refused with an error that names it instead of being replaced by the
// default.
func TestNewRefusesNegativeConfig(t *testing.T) {
	nc := connectNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	for _, cfg := range []natsbroker.Config{{Replicas: -1}, {NodeTTL: -time.Second}, {MaxBytes: -1}} {
		cfg.Conn, cfg.Logger = nc, quiet
		b, err := natsbroker.New(ctx, cfg)
		if err == nil {
			_ = b.Close()
			t.Errorf("natsbroker.New(%+v) accepted a negative value", cfg)
		} else if !strings.Contains(err.Error(), "none may be negative") {
			t.Errorf("natsbroker.New: %v, want the negative value named", err)
		}
	}
}

// onNote calls fn with each notification's title and seq.
func onNote(c *client.Client, fn func(title string, seq uint64)) {
	client.OnMeta(c, func(n testmsg.Notification, meta client.Meta) { fn(n.Title, meta.Seq) })
}
