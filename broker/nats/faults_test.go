package natsbroker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestStreamServerKilledMidStream is issue 17's first and third faults: on
// a 3-server NATS cluster with one copy of everything, the server holding
// the rooms stream (or the presence bucket, or the keys bucket) is killed
// while a user sends keyed chat lines and another joins rooms, and started
// again. No answer is rejected or carries NATS's text; every line answered
// ok is in the room once; every line that failed (unavailable) succeeds
// when sent again with its key, once; and joins work again as soon as
// publishes do, within 2 s of the server being back (the stream and the
// buckets led again).
func TestStreamServerKilledMidStream(t *testing.T) {
	for _, asset := range []string{natsbroker.StreamName, "KV_" + natsbroker.PresenceKV, "KV_" + natsbroker.KeysKV} {
		t.Run(asset, func(t *testing.T) {
			nc := natstest.StartCluster(t, 3)
			n := startNodeVia(t, nc.URLs(), "a", natsbroker.Config{}, server.Config{})
			holder := nc.StreamLeader(asset)
			if holder < 0 {
				t.Fatalf("no server holds %s", asset)
			}
			if n.nc.ConnectedServerName() == fmt.Sprintf("n%d", holder+1) {
				// The node must stay connected while the server goes: its
				// NATS connection never drops, nothing tells it to rebuild.
				n.close()
				n = startNodeVia(t, nc.URL((holder+1)%3), "b", natsbroker.Config{}, server.Config{})
			}
			p := newProber(t, n, "faults")
			for range 30 {
				p.step()
			}
			nc.Kill(holder)
			down := time.Now()
			for len(p.failed)+p.joinFails < 5 && time.Since(down) < 5*time.Second {
				p.step()
			}
			if len(p.failed)+p.joinFails == 0 {
				t.Fatalf("no send or join failed while the server of %s was down: the fault was not exercised", asset)
			}
			failedDown, joinsDown := len(p.failed), p.joinFails
			nc.Restart(holder)
			restarted := time.Now()
			back := waitLeaders(nc, 30*time.Second)
			if back.IsZero() {
				t.Fatal("the stream and the buckets have no leader within 30s of the restart")
			}
			p.pubFail, p.joinFail = time.Time{}, time.Time{}
			for time.Since(back) < 4*time.Second || p.k < 90 {
				p.step()
			}
			pubBack, joinBack := since(back, p.pubFail), since(back, p.joinFail)
			t.Logf("%s on n%d, killed at line 30: %d lines and %d joins unavailable while it was down; restarted, led again after %v; then publishes failed for %v, joins for %v",
				asset, holder+1, failedDown, joinsDown, back.Sub(restarted).Round(time.Millisecond), pubBack.Round(time.Millisecond), joinBack.Round(time.Millisecond))
			if pubBack > 2*time.Second || joinBack > 2*time.Second {
				t.Errorf("after the server came back, publishes failed for %v and joins for %v; want both working within 2s", pubBack, joinBack)
			}
			p.resendFailed()
			p.checkRoom(n)
		})
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
	pubFail   time.Time // when the last failed (or slow) publish was sent
	joinFail  time.Time // when the last failed (or slow) join was sent
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
// longer than slowOp, marks the time it was sent as a failure: what must
// work within 2 s of the election is what is sent from then on (a request
// sent before it may fail after it, at the end of its timeout, which says
// nothing of the cluster after the election).
func (p *prober) step() {
	p.k++
	p.id++
	k := p.k
	start := time.Now()
	env := p.lines.request(p.id, fmt.Sprintf("k-%d", k), testmsg.ChatSend{Room: p.room, Text: fmt.Sprintf("line %d", k)})
	if unavailable(p.t, fmt.Sprintf("line %d", k), env, shared.TypeOf[shared.Reply]()) {
		p.acked[k] = true
		if time.Since(start) > slowOp {
			p.pubFail = start
		}
	} else {
		p.failed = append(p.failed, k)
		p.pubFail = start
	}
	probe := fmt.Sprintf("probe-%d", k)
	start = time.Now()
	env = p.joins.request(p.id, "", shared.Join{Room: probe})
	if unavailable(p.t, "join "+probe, env, shared.TypeOf[shared.Joined]()) {
		if time.Since(start) > slowOp {
			p.joinFail = start
		}
		p.joins.request(p.id+1_000_000, "", shared.Leave{Room: probe})
	} else {
		p.joinFail = start
		p.joinFails++
	}
}

// resendFailed sends every failed line again with its key until it is
// answered ok.
func (p *prober) resendFailed() {
	for _, k := range p.failed {
		tethertest.Poll(p.t, fmt.Sprintf("line %d sent again with its key", k), func() error {
			p.id++
			env := p.lines.request(p.id, fmt.Sprintf("k-%d", k), testmsg.ChatSend{Room: p.room, Text: fmt.Sprintf("line %d", k)})
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
