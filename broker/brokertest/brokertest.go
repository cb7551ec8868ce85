// Package brokertest is the conformance suite of package broker: every
// invariant broker.Broker states, checked against an implementation through
// its exported methods only. broker/memory and broker/nats run it in their
// tests; a third broker (Redis, Postgres, …) runs it the same way:
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, brokertest.Suite{
//			MaxNodes: 3,
//			New: func(t *testing.T, s brokertest.Setup) []broker.Broker {
//				backend := startBackend(t) // fresh, stopped by t.Cleanup
//				nodes := make([]broker.Broker, s.Nodes)
//				for i := range nodes {
//					nodes[i] = myBroker(t, backend, s.HistorySize)
//				}
//				return nodes
//			},
//		})
//	}
//
// The suite registers its own broker.Handler on every broker it is given,
// waits on events with deadlines (never sleeps) and names the invariant a
// failure breaks.
package brokertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
)

// Wait bounds every wait of the suite for an event a broker must deliver.
const Wait = 15 * time.Second

// Setup is what one test of the suite needs of the brokers.
type Setup struct {
	// Nodes is how many brokers: nodes of one cluster sharing one backend.
	// It is never more than Suite.MaxNodes.
	Nodes int
	// HistorySize is how many messages each room keeps (the oldest go
	// first); no test publishes faster than a history TTL of a minute would
	// allow.
	HistorySize int
}

// Factory returns s.Nodes brokers sharing a fresh backend (no rooms, no
// presence, no keys), none registered yet, and stops them and the backend
// when t ends (t.Cleanup).
type Factory func(t *testing.T, s Setup) []broker.Broker

// Suite describes the broker under test.
type Suite struct {
	// New makes the brokers of each test. Required.
	New Factory
	// MaxNodes is how many nodes can share one backend: 1 for a broker of a
	// single process. Zero means 1.
	MaxNodes int
	// LoseHistory makes the backend lose room's history, as an operator's
	// purge or a restart without persistence would, while the room has no
	// subscriber and no presence. Nil skips the part of the epoch test that
	// needs it.
	LoseHistory func(t *testing.T, nodes []broker.Broker, room string)
	// KeysOff says the broker's IdempotencyStore remembers nothing
	// (broker.NoIdempotency): the idempotency test then checks that every
	// claim is a run of its own.
	KeysOff bool
	// Elapse makes d pass on the clock of brokers that run on a fake one
	// (a map key's TTL is then due). Nil: the brokers run on real time,
	// and the suite waits.
	Elapse func(t *testing.T, nodes []broker.Broker, d time.Duration)
}

// Run runs every test of the suite as a subtest of t.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.New == nil {
		t.Fatal("brokertest: Suite.New is required")
	}
	if s.MaxNodes <= 0 {
		s.MaxNodes = 1
	}
	t.Run("HistoryPaging", s.historyPaging)
	t.Run("ConsecutiveSeqsOneOrder", s.consecutiveSeqs)
	t.Run("Epoch", s.epoch)
	t.Run("PresenceOnce", s.presence)
	t.Run("Ephemeral", s.ephemeral)
	t.Run("SubscriptionsCounted", s.subscriptions)
	t.Run("Idempotency", s.idempotency)
	t.Run("Nodes", s.nodes)
	t.Run("MapSnapshotThenChanges", s.mapSnapshotThenChanges)
	t.Run("MapConditionalWrites", s.mapConditionalWrites)
	t.Run("MapRaceOneWinnerPerRevision", s.mapRace)
	t.Run("MapKeyTTL", s.mapKeyTTL)
	t.Run("LastValues", s.lastValues)
}

// start makes n nodes (at most MaxNodes) keeping size messages per room and
// registers a recorder on each.
func (s Suite) start(t *testing.T, n, size int) ([]broker.Broker, []*Recorder) {
	t.Helper()
	n = min(n, s.MaxNodes)
	nodes := s.New(t, Setup{Nodes: n, HistorySize: size})
	if len(nodes) != n {
		t.Fatalf("Suite.New returned %d brokers for Setup.Nodes %d", len(nodes), n)
	}
	recs := make([]*Recorder, n)
	for i, b := range nodes {
		recs[i] = NewRecorder(fmt.Sprintf("node%d", i))
		b.Register(recs[i])
	}
	return nodes, recs
}

// context returns a context bounded by Wait, canceled when t ends.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return ctx
}

// Payload is the payload the suite publishes for seq: the seq and who
// published it, so that a delivery shows which encode call it came from.
func Payload(seq uint64, from string) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"from":%q}`, seq, from)
}

// publish publishes one message to room on b, encoded by Payload.
func publish(ctx context.Context, b broker.Broker, room, from string) (broker.PublishResult, error) {
	return b.Publish(ctx, room, "test", func(seq uint64) ([]byte, error) { return Payload(seq, from), nil })
}

// mustPublish publishes n messages to room on b and returns the last
// result.
func mustPublish(t *testing.T, ctx context.Context, b broker.Broker, room string, n int) broker.PublishResult {
	t.Helper()
	var res broker.PublishResult
	for i := range n {
		var err error
		if res, err = publish(ctx, b, room, fmt.Sprint("p", i)); err != nil {
			t.Fatalf("Publish to %q: %v", room, err)
		}
	}
	return res
}

// Seqs returns from, from+1, .., to (nil when to < from).
func Seqs(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// seqsOf returns the seqs of pubs.
func seqsOf(pubs []broker.Publication) []uint64 {
	var s []uint64
	for _, p := range pubs {
		s = append(s, p.Seq)
	}
	return s
}
