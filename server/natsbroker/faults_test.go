package natsbroker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/natsbroker"
	"github.com/tetherkit/tether/shared"
)

// TestStreamServerKilledMidStream is issue 17's first fault: on a 3-server
// NATS cluster with one copy of everything, the server holding the rooms
// stream is killed while a user sends keyed chat lines, and started again.
// No answer is rejected or carries NATS's text; every line answered ok is
// in the room once; every line that failed (unavailable) succeeds when sent
// again with its key, once.
func TestStreamServerKilledMidStream(t *testing.T) {
	nc := natstest.StartCluster(t, 3)
	n := startNodeVia(t, nc.URLs(), "a", natsbroker.Config{}, server.Config{})
	c := dialRaw(t, n, "alice")
	if env := c.request(1, "", shared.Join{Room: "faults"}); env.Type != shared.TypeOf[shared.Joined]() {
		t.Fatalf("join: %s", answer(env))
	}
	holder := nc.StreamLeader(natsbroker.StreamName)
	if holder < 0 {
		t.Fatal("no server holds the rooms stream")
	}

	const total = 150
	id := uint64(1)
	acked := make(map[int]bool)
	var failed []int
	send := func(k int) shared.Envelope {
		id++
		return c.request(id, fmt.Sprintf("k-%d", k), shared.ChatSend{Room: "faults", Text: fmt.Sprintf("line %d", k)})
	}
	check := func(k int, env shared.Envelope) bool {
		if env.Type == shared.TypeOf[shared.Reply]() {
			return true
		}
		e, err := shared.Unmarshal[shared.Error](env)
		if err != nil || e.Code != shared.CodeUnavailable {
			t.Fatalf("line %d answered %s, want reply ok or unavailable (never rejected: the handler did not refuse it)", k, answer(env))
		}
		if low := strings.ToLower(e.Message); strings.Contains(low, "nats") || strings.Contains(low, "stream") && strings.Contains(low, "response") {
			t.Fatalf("line %d: the answer carries the dependency's text: %q", k, e.Message)
		}
		return false
	}
	restarted := false
	var downSince time.Time
	for k := 1; k <= total; k++ {
		if k == 50 {
			nc.Kill(holder)
			downSince = time.Now()
		}
		if ok := check(k, send(k)); ok {
			acked[k] = true
		} else {
			failed = append(failed, k)
		}
		if !restarted && k > 50 && (len(failed) >= 10 || time.Since(downSince) > 5*time.Second) {
			nc.Restart(holder)
			restarted = true
		}
	}
	if !restarted {
		nc.Restart(holder)
	}
	if len(failed) == 0 {
		t.Fatal("no send failed while the stream's server was down: the fault was not exercised")
	}
	t.Logf("stream on server n%d, killed at line 50: %d lines acknowledged, %d answered unavailable", holder+1, len(acked), len(failed))

	// Every failed line, sent again with its key, succeeds.
	for _, k := range failed {
		tethertest.Poll(t, fmt.Sprintf("line %d sent again with its key", k), func() error {
			if env := send(k); !check(k, env) {
				return fmt.Errorf("answered %s", answer(env))
			}
			return nil
		})
	}

	// The room has every line once.
	late := newClient(t, n, "late")
	rec := newRecorder(late)
	tethertest.Run(t, late)
	join(t, late, "faults", total+10)
	rec.wait(t, "the room's history", func(r *recorder) bool { return len(r.texts) >= total })
	texts, _, _ := rec.snapshot()
	count := make(map[string]int)
	for _, s := range texts {
		count[s]++
	}
	for k := 1; k <= total; k++ {
		if got := count[fmt.Sprintf("line %d", k)]; got != 1 {
			t.Errorf("line %d (acknowledged the first time: %v) is in the room %d times, want once", k, acked[k], got)
		}
	}
	if len(texts) != total {
		t.Errorf("the room has %d lines, want %d", len(texts), total)
	}
}

// prober measures when publishes and joins work: each step sends one keyed
// chat line on a connection joined to the room and makes one fresh join
// (and leave) of a new room on another connection.
type prober struct {
	t         *testing.T
	lines     *wsConn // joined to room
	joins     *wsConn
	room      string
	id        uint64
	k         int
	acked     map[int]bool
	failed    []int
	pubFail   time.Time // the last failed publish
	joinFail  time.Time // the last failed join
	joinFails int
}

func newProber(t *testing.T, n *node, room string) *prober {
	p := &prober{t: t, lines: dialRaw(t, n, "alice"), joins: dialRaw(t, n, "joiner"), room: room, acked: make(map[int]bool)}
	if env := p.lines.request(1, "", shared.Join{Room: room}); env.Type != shared.TypeOf[shared.Joined]() {
		t.Fatalf("join: %s", answer(env))
	}
	return p
}

// unavailable fails the test unless env is reply ok or an unavailable error
// that does not carry NATS's text; it reports whether env is reply ok.
func unavailable(t *testing.T, what string, env shared.Envelope, ok string) bool {
	t.Helper()
	if env.Type == ok {
		return true
	}
	e, err := shared.Unmarshal[shared.Error](env)
	if err != nil || e.Code != shared.CodeUnavailable {
		t.Fatalf("%s answered %s, want %s or unavailable (never rejected or internal: the handler did not refuse it)", what, answer(env), ok)
	}
	if low := strings.ToLower(e.Message); strings.Contains(low, "nats") || strings.Contains(low, "no response") {
		t.Fatalf("%s: the answer carries the dependency's text: %q", what, e.Message)
	}
	return false
}

// slowOp is how long a publish or a join may take and still count as
// working.
const slowOp = time.Second

// step sends the next line and probes a join. One that fails, or takes
// longer than slowOp, marks the time it ended as a failure.
func (p *prober) step() {
	p.k++
	p.id++
	k := p.k
	start := time.Now()
	env := p.lines.request(p.id, fmt.Sprintf("k-%d", k), shared.ChatSend{Room: p.room, Text: fmt.Sprintf("line %d", k)})
	if unavailable(p.t, fmt.Sprintf("line %d", k), env, shared.TypeOf[shared.Reply]()) {
		p.acked[k] = true
		if time.Since(start) > slowOp {
			p.pubFail = time.Now()
		}
	} else {
		p.failed = append(p.failed, k)
		p.pubFail = time.Now()
	}
	probe := fmt.Sprintf("probe-%d", k)
	start = time.Now()
	env = p.joins.request(p.id, "", shared.Join{Room: probe})
	if unavailable(p.t, "join "+probe, env, shared.TypeOf[shared.Joined]()) {
		if time.Since(start) > slowOp {
			p.joinFail = time.Now()
		}
		p.joins.request(p.id+1_000_000, "", shared.Leave{Room: probe})
	} else {
		p.joinFail = time.Now()
		p.joinFails++
	}
}

// resendFailed sends every failed line again with its key until it is
// answered ok.
func (p *prober) resendFailed() {
	for _, k := range p.failed {
		tethertest.Poll(p.t, fmt.Sprintf("line %d sent again with its key", k), func() error {
			p.id++
			env := p.lines.request(p.id, fmt.Sprintf("k-%d", k), shared.ChatSend{Room: p.room, Text: fmt.Sprintf("line %d", k)})
			if !unavailable(p.t, fmt.Sprintf("line %d again", k), env, shared.TypeOf[shared.Reply]()) {
				return fmt.Errorf("answered %s", answer(env))
			}
			return nil
		})
	}
}

// checkRoom fails the test unless the room's history has each of the k
// lines once.
func (p *prober) checkRoom(n *node) {
	t := p.t
	late := newClient(t, n, "late")
	rec := newRecorder(late)
	tethertest.Run(t, late)
	join(t, late, p.room, p.k+10)
	rec.wait(t, "the room's history", func(r *recorder) bool { return len(r.texts) >= p.k })
	texts, _, _ := rec.snapshot()
	count := make(map[string]int)
	for _, s := range texts {
		count[s]++
	}
	for k := 1; k <= p.k; k++ {
		if got := count[fmt.Sprintf("line %d", k)]; got != 1 {
			t.Errorf("line %d (acknowledged the first time: %v) is in the room %d times, want once", k, p.acked[k], got)
		}
	}
	if len(texts) != p.k {
		t.Errorf("the room has %d lines, want %d", len(texts), p.k)
	}
}

// since is how long after from t is, 0 when t is before it.
func since(from, t time.Time) time.Duration { return max(t.Sub(from), 0) }

// TestReplicasSurviveAnyServer is issue 17's replicas test: with
// Replicas 3 on a 3-server NATS cluster, one server is killed while lines
// are sent and rooms joined, the stream's leader or another one: no
// acknowledged line is lost, and publishes and joins work again within 2 s
// of the stream having a leader again.
func TestReplicasSurviveAnyServer(t *testing.T) {
	for _, victim := range []string{"stream leader", "other server"} {
		t.Run(victim, func(t *testing.T) {
			nc := natstest.StartCluster(t, 3)
			n := startNodeVia(t, nc.URLs(), "a", natsbroker.Config{Replicas: 3}, server.Config{})
			p := newProber(t, n, "replicated")
			for range 30 {
				p.step()
			}
			leader := nc.StreamLeader(natsbroker.StreamName)
			kill := leader
			if victim != "stream leader" {
				kill = (leader + 1) % 3
			}
			killed := time.Now()
			nc.Kill(kill)
			electedAt := make(chan time.Time, 1)
			go func() { electedAt <- waitLeaders(nc, 30*time.Second) }()
			var elected time.Time
			for elected.IsZero() || time.Since(elected) < 3*time.Second || p.k < 90 {
				p.step()
				select {
				case elected = <-electedAt:
					if elected.IsZero() {
						t.Fatal("the stream and the buckets have no leader within 30s of the kill")
					}
				default:
				}
			}
			pubBack, joinBack := since(elected, p.pubFail), since(elected, p.joinFail)
			t.Logf("killed n%d (%s) at line 30: leader again after %v; after it, publishes failed for %v, joins for %v; %d lines unavailable, %d joins unavailable, of %d",
				kill+1, victim, elected.Sub(killed).Round(time.Millisecond), pubBack.Round(time.Millisecond), joinBack.Round(time.Millisecond), len(p.failed), p.joinFails, p.k)
			if pubBack > 2*time.Second || joinBack > 2*time.Second {
				t.Errorf("publishes failed until %v and joins until %v after the leader election, want both within 2s", pubBack, joinBack)
			}
			p.resendFailed()
			p.checkRoom(n)
		})
	}
}

// assets are the streams of the broker: the rooms and the buckets.
var assets = []string{natsbroker.StreamName, "KV_" + natsbroker.EpochBucket, "KV_" + natsbroker.PresenceKV, "KV_" + natsbroker.KeysKV}

// waitLeaders returns when the stream and every bucket have a leader among
// the running servers, the zero time when that takes longer than limit.
func waitLeaders(nc *natstest.Cluster, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if nc.HaveLeaders(assets...) {
			return time.Now()
		}
		time.Sleep(5 * time.Millisecond) // polling the servers' state: there is no event to wait on
	}
	return time.Time{}
}
