package natsbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/broker"
	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// wsConn is a raw protocol connection to a node, for sending keyed
// requests by hand.
type wsConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, n *node, user string) *wsConn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(n.wsURL(user), nil)
	if err != nil {
		t.Fatalf("dial %s as %s: %v", n.name, user, err)
	}
	resp.Body.Close()
	c := &wsConn{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	if env := c.next(); env.Type != shared.TypeOf[shared.Welcome]() {
		t.Fatalf("first message from %s is %s, want welcome", n.name, env.Type)
	}
	return c
}

// next reads the next envelope.
func (c *wsConn) next() shared.Envelope {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTime))
	_, frame, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	env, err := shared.DecodeEnvelope(frame)
	if err != nil {
		c.t.Fatalf("decode %s: %v", frame, err)
	}
	return env
}

// request sends m as request id with key (may be "") and returns the answer,
// skipping room messages and presence events.
func (c *wsConn) request(id uint64, key string, m shared.Message) shared.Envelope {
	c.t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id, Key: key}, m)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	for {
		if env := c.next(); env.ID == id {
			return env
		}
	}
}

// answer is an envelope's answer as a comparable string: its type and data.
func answer(env shared.Envelope) string { return env.Type + " " + string(env.Data) }

// TestKeyedSendAcrossNodes: a keyed chat.send sent to node a, and the same
// key then sent by the same user to node b (a reconnect that landed on
// another node), appears in the room once, and both get the same answer; a
// keyed send that failed on node a gets the same error on node b, even
// though it would now succeed; the same key sent to both nodes at once runs
// once.
func TestKeyedSendAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	watcher := newClient(t, nodes[2], "watcher")
	rec := newRecorder(watcher)
	tethertest.Run(t, watcher)
	join(t, watcher, "keys", 0)

	onA, onB := dialRaw(t, nodes[0], "alice"), dialRaw(t, nodes[1], "alice")
	for _, c := range []*wsConn{onA, onB} {
		if env := c.request(1, "", shared.Join{Room: "keys"}); env.Type != shared.TypeOf[shared.Joined]() {
			t.Fatalf("join: %s", answer(env))
		}
	}
	first := onA.request(2, "k-1", testmsg.ChatSend{Room: "keys", Text: "once"})
	again := onB.request(2, "k-1", testmsg.ChatSend{Room: "keys", Text: "once"})
	if answer(first) != answer(again) || first.Type != shared.TypeOf[shared.Reply]() {
		t.Fatalf("node a answered %q, node b %q: want the same reply ok", answer(first), answer(again))
	}

	// Failed on a (not joined there), repeated on b where it would run.
	failed := onA.request(3, "k-2", testmsg.ChatSend{Room: "elsewhere", Text: "nope"})
	onB.request(4, "", shared.Join{Room: "elsewhere"})
	repeat := onB.request(5, "k-2", testmsg.ChatSend{Room: "elsewhere", Text: "nope"})
	if answer(failed) != answer(repeat) || !strings.Contains(answer(failed), shared.CodeNotJoined) {
		t.Fatalf("failed send answered %q on a, its repeat %q on b: want the same not_joined", answer(failed), answer(repeat))
	}

	// The same key to both nodes at once.
	var wg sync.WaitGroup
	answers := make([]string, 2)
	for i, c := range []*wsConn{onA, onB} {
		wg.Go(func() { answers[i] = answer(c.request(6, "k-3", testmsg.ChatSend{Room: "keys", Text: "race"})) })
	}
	wg.Wait()
	if answers[0] != answers[1] {
		t.Fatalf("concurrent repeats answered %q and %q, want the same", answers[0], answers[1])
	}
	onA.request(7, "k-4", testmsg.ChatSend{Room: "keys", Text: "end"})

	rec.wait(t, "the end marker", func(r *recorder) bool { return len(r.texts) > 0 && r.texts[len(r.texts)-1] == "end" })
	texts, seqs, _ := rec.snapshot()
	if got, want := strings.Join(texts, " "), "once race end"; got != want {
		t.Fatalf("the room got %q, want %q (each key once)", got, want)
	}
	checkSeqs(t, "watcher", seqs, 3)
}

// TestKeyStore checks the bucket-backed window through the broker: an
// outcome with a reply message is handed to a repeat on another node as it
// was recorded; a repeat while the first run is pending waits for it; a
// claim of a node that died is taken over once the node's liveness has
// expired, and a claim of an earlier life of the same node at once; with
// NATS unreachable a claim fails (the server then refuses to run the
// request).
func TestKeyStore(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	cfg := natsbroker.Config{NodeTTL: time.Second}
	a := startNode(t, ns, "a", cfg, server.Config{})
	b := startNode(t, ns, "b", cfg, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	const window = time.Minute

	run, _, err := a.broker.Claim(ctx, "u", "reply", window)
	if err != nil || run == nil {
		t.Fatalf("first claim: run %v, err %v; want a run", run, err)
	}
	// A repeat on b while a's run is pending waits for its outcome.
	want := broker.Outcome{Type: "dice.result", Data: json.RawMessage(`{"value":4}`)}
	got := make(chan broker.Outcome, 1)
	go func() {
		r, out, err := b.broker.Claim(ctx, "u", "reply", window)
		if err != nil || r != nil {
			t.Errorf("repeat on b: run %v, err %v; want the first outcome", r, err)
		}
		got <- out
	}()
	if err := run.Finish(ctx, want); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if out := <-got; out.Type != want.Type || string(out.Data) != string(want.Data) || out.Err != nil {
		t.Fatalf("repeat on b got %+v, want %+v", out, want)
	}
	// An error outcome too.
	run, _, _ = b.broker.Claim(ctx, "u", "error", window)
	_ = run.Finish(ctx, broker.Outcome{Err: &shared.Error{Code: shared.CodeRejected, Message: "no"}})
	if r, out, err := a.broker.Claim(ctx, "u", "error", window); err != nil || r != nil || out.Err == nil || out.Err.Code != shared.CodeRejected {
		t.Fatalf("repeat of an error: run %v, outcome %+v, err %v", r, out, err)
	}
	// Another user's identical key is another request.
	if r, _, err := a.broker.Claim(ctx, "v", "error", window); err != nil || r == nil {
		t.Fatalf("another user's key: run %v, err %v; want a run", r, err)
	}

	// Node c claims a key and dies before finishing: b waits, then takes
	// the claim over once c's liveness key expired.
	c := startNode(t, ns, "c", cfg, server.Config{})
	if r, _, err := c.broker.Claim(ctx, "u", "orphan", window); err != nil || r == nil {
		t.Fatalf("claim on c: run %v, err %v", r, err)
	}
	c.kill()
	start := time.Now()
	r, _, err := b.broker.Claim(ctx, "u", "orphan", window)
	if err != nil || r == nil {
		t.Fatalf("claim of a dead node's key: run %v, err %v; want it taken over", r, err)
	}
	t.Logf("a dead node's claim was taken over after %v (node TTL %v)", time.Since(start).Round(time.Millisecond), cfg.NodeTTL)

	// A claim by an earlier life of node a: a restarted a takes it over.
	if r, _, err := a.broker.Claim(ctx, "u", "restart", window); err != nil || r == nil {
		t.Fatalf("claim on a: run %v, err %v", r, err)
	}
	a.close()
	a2 := startNode(t, ns, "a", cfg, server.Config{})
	if r, _, err := a2.broker.Claim(ctx, "u", "restart", window); err != nil || r == nil {
		t.Fatalf("restarted node's claim of its earlier life's key: run %v, err %v; want a run", r, err)
	}

	// Fail closed: with NATS unreachable the claim is an error, not a run.
	ns.Shutdown()
	ns.WaitForShutdown()
	if r, _, err := b.broker.Claim(ctx, "u", "down", window); err == nil || r != nil {
		t.Fatalf("claim with NATS down: run %v, err %v; want an error", r, err)
	}
}

// TestKeyedSendNATSDown: a node that cannot reach NATS does not run a keyed
// request (it cannot know whether another node ran it) and answers internal
// with a sentence that says so; once NATS is back the same key runs, once.
func TestKeyedSendNATSDown(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	natsLink := tethertest.NewCutProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	n := startNodeVia(t, "nats://"+natsLink.Addr(), "a", natsbroker.Config{}, server.Config{})
	c := dialRaw(t, n, "alice")
	c.request(1, "", shared.Join{Room: "down"})
	natsLink.Shut() // no reconnect until Open
	env := c.request(2, "k-1", testmsg.ChatSend{Room: "down", Text: "x"})
	e, err := shared.Unmarshal[shared.Error](env)
	if err != nil || e.Code != shared.CodeUnavailable || !strings.Contains(e.Message, "not run") {
		t.Fatalf("keyed send with NATS down answered %q, want internal saying the request was not run", answer(env))
	}
	t.Logf("answer with NATS down: %s", e.Message)

	natsLink.Open()
	id := uint64(3)
	tethertest.Poll(t, "the keyed send runs once NATS is back", func() error {
		id++
		if env := c.request(id, "k-1", testmsg.ChatSend{Room: "down", Text: "x"}); env.Type != shared.TypeOf[shared.Reply]() {
			return fmt.Errorf("answered %s", answer(env))
		}
		return nil
	})
	if env := c.request(100, "k-1", testmsg.ChatSend{Room: "down", Text: "x"}); env.Type != shared.TypeOf[shared.Reply]() {
		t.Fatalf("repeat after the run answered %s, want reply ok", answer(env))
	}
	c.request(101, "", testmsg.ChatSend{Room: "down", Text: "end"})
	late := newClient(t, n, "late")
	rec := newRecorder(late)
	tethertest.Run(t, late)
	join(t, late, "down", 10)
	rec.wait(t, "the history up to the end marker", func(r *recorder) bool { return len(r.texts) > 0 && r.texts[len(r.texts)-1] == "end" })
	if texts, _, _ := rec.snapshot(); strings.Join(texts, " ") != "x end" {
		t.Fatalf("the room's history is %q, want \"x end\" (the keyed send once)", strings.Join(texts, " "))
	}
}

// TestOutboxExactlyOnceAcrossNodes is the cluster form of issue 8's
// upstream test: 500 chat sends from a client whose connection is cut at 10
// random points, each reconnect landing on another node: the room ends with
// exactly those 500, once each, in the client's order.
func TestOutboxExactlyOnceAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3, natsbroker.Config{}, server.Config{})
	proxy := tethertest.NewCutProxy(t, nodes[0].addr(), nodes[1].addr(), nodes[2].addr())
	r := tethertest.OutboxScenario{
		Watcher: newClient(t, nodes[0], "watcher"),
		Sender:  tethertest.NewClient(t, client.Config{URL: proxy.URL("sender"), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet}),
		Cut:     proxy.Cut,
		Room:    "outbox",
		Total:   500, Cuts: 10, Stream: 11,
		Within: waitTime, EndWithin: 4 * waitTime,
	}.Run(t)
	t.Logf("seed %d: 10 cuts, %d connections over 3 nodes, at most %d sends waiting in the outbox, 500 messages once each in order", r.Seed, proxy.Accepted(), r.MaxQueued)
}

// TestKeyStoreFull: a full TETHER_KEYS bucket refuses new claims (an error:
// the server does not run the request); a request whose outcome no longer
// fitted is not run again either (its repeat waits and then fails);
// remembered keys still answer.
func TestKeyStoreFull(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	a := startNode(t, ns, "a", natsbroker.Config{KeysBytes: 4096}, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	claimed, unrecorded := 0, ""
	var full error
	for i := range 100 {
		key := fmt.Sprintf("k%d", i)
		r, _, err := a.broker.Claim(ctx, "u", key, time.Minute)
		if err != nil {
			full = err
			break
		}
		if r == nil {
			t.Fatalf("key %s: no run and no error: a new key must be claimed", key)
		}
		claimed++
		if err := r.Finish(ctx, broker.Outcome{}); err != nil {
			unrecorded = key
			break
		}
	}
	if full == nil && unrecorded == "" {
		t.Fatalf("100 keyed requests fitted in a 4 KiB bucket: want the bucket to fill")
	}
	if unrecorded != "" {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		r, _, err := a.broker.Claim(short, "u", unrecorded, time.Minute)
		cancel()
		if r != nil || err == nil {
			t.Fatalf("repeat of %s, whose outcome did not fit: run %v, err %v; want a wait that fails, not a second run", unrecorded, r, err)
		}
		_, _, full = a.broker.Claim(ctx, "u", "new", time.Minute)
		if full == nil {
			t.Fatalf("a new key in a full bucket was claimed")
		}
	}
	if r, _, err := a.broker.Claim(ctx, "u", "k0", time.Minute); err != nil || r != nil {
		t.Fatalf("remembered key k0 in a full bucket: run %v, err %v; want its outcome", r, err)
	}
	t.Logf("a 4 KiB bucket took %d keyed requests (outcome of %q not recorded), then: %v", claimed, unrecorded, full)
}
