package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
)

// KeysKV is the bucket of the cluster's idempotency window
// (docs/protocol.md §3): one entry per user and key.
const KeysKV = "TETHER_KEYS"

// DefaultKeysBytes bounds the TETHER_KEYS bucket when Config.KeysBytes is 0.
const DefaultKeysBytes = 256 << 20

// keyStore is the idempotency window of the cluster: the TETHER_KEYS bucket.
// An entry k.u<user>.k<key> is created (a KV create: exactly one node wins
// it) when a keyed request reaches its handler, holds the claiming node and
// its life, and is replaced by the outcome when the run finishes. Every
// write carries the window as its per-message TTL.
type keyStore struct {
	b    *Broker
	kv   jetstream.KeyValue
	life string // this Broker's life: a claim by an earlier life of this node is stale

	mu       sync.Mutex
	held     map[string]int         // keys this life is claiming or running: its other claims are orphans
	kept     map[string]time.Time   // keys whose run ended but whose outcome was not recorded, until their window ends
	released map[string]releasedKey // keys given up whose purge failed: retried (retryReleases)
}

// releasedKey is a claim given up (KeyedRun.Release) whose purge is still
// to be written.
type releasedKey struct {
	rev   uint64    // the claim's revision: a newer claim is not purged
	until time.Time // the end of its window: after it there is nothing to purge
}

// keyEntry is the value of an entry of TETHER_KEYS.
type keyEntry struct {
	Node    string          `json:"node"`
	Life    string          `json:"life"`
	Done    bool            `json:"done,omitempty"`
	Outcome *broker.Outcome `json:"outcome,omitempty"`
}

func newKeyStore(ctx context.Context, b *Broker) (*keyStore, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      KeysKV,
		Description: "Tether: the keyed requests that ran, per user, and their answers",
		MaxBytes:    b.cfg.KeysBytes,
		// Per-message TTLs (the window) need it; markers are not watched.
		LimitMarkerTTL: time.Second,
		Replicas:       b.cfg.Replicas,
		Storage:        jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", KeysKV, err)
	}
	return &keyStore{b: b, kv: kv, life: randomID(8), held: make(map[string]int), kept: make(map[string]time.Time),
		released: make(map[string]releasedKey)}, nil
}

// entryKey is the bucket key of user's key: both parts encoded, so that any
// user id and key make one valid KV key.
func entryKey(user, key string) string { return "k.u" + token(user) + ".k" + token(key) }

// Claim implements broker.IdempotencyStore on the TETHER_KEYS bucket. A new
// key is claimed with a KV create; a claimed one is polled until its outcome
// is there, or ctx is done. A claim whose node died (its liveness key in the
// presence bucket expired) or that an earlier life of this node made is
// taken over, with a compare-and-swap, so that a request is not blocked
// for the whole window by a node that will never answer; its request may
// then run twice, as on a single node that crashed while running it.
//
// The create is not abandoned when ctx ends: once a key is claimed the
// caller gets the run (and runs it), since the client will send the key
// again and must then get this run's answer.
func (b *Broker) Claim(ctx context.Context, user, key string, window time.Duration) (broker.KeyedRun, broker.Outcome, error) {
	return b.keys.claim(ctx, entryKey(user, key), window)
}

func (s *keyStore) claim(ctx context.Context, k string, window time.Duration) (broker.KeyedRun, broker.Outcome, error) {
	mine, err := json.Marshal(keyEntry{Node: s.b.node, Life: s.life})
	if err != nil {
		return nil, broker.Outcome{}, fmt.Errorf("claim key: %w", err)
	}
	if !s.b.nc.IsConnected() {
		// A create sent now would wait in the client's reconnect buffer and
		// could claim the key long after this request was refused.
		return nil, broker.Outcome{}, fmt.Errorf("claim key: %w", nats.ErrDisconnected)
	}
	pause := 2 * time.Millisecond
	for {
		s.hold(k, 1)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		rev, err := s.kv.Create(cctx, k, mine, jetstream.KeyTTL(window))
		cancel()
		if err == nil {
			return &keyRun{s: s, key: k, rev: rev, window: window}, broker.Outcome{}, nil
		}
		s.hold(k, -1)
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, broker.Outcome{}, fmt.Errorf("claim key: %w", err)
		}
		e, err := s.kv.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			// Gone since the create (its window ended): claim it again.
		case err != nil:
			return nil, broker.Outcome{}, fmt.Errorf("read key: %w", err)
		default:
			var v keyEntry
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return nil, broker.Outcome{}, fmt.Errorf("read key: %w", err)
			}
			if v.Done && v.Outcome != nil {
				return nil, *v.Outcome, nil
			}
			if s.stale(k, v, e.Created()) {
				s.hold(k, 1)
				rev, err := s.put(context.WithoutCancel(ctx), k, mine, e.Revision(), window)
				if err == nil {
					s.b.log.Warn("took over the claim of a keyed request that its node will not finish: it may have run", "node", v.Node)
					return &keyRun{s: s, key: k, rev: rev, window: window}, broker.Outcome{}, nil
				}
				s.hold(k, -1)
				if !isWrongLastSeq(err) {
					return nil, broker.Outcome{}, fmt.Errorf("take over key: %w", err)
				}
				continue // another node took it over, or it finished: read again
			}
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, broker.Outcome{}, fmt.Errorf("wait for the first run: %w", ctx.Err())
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// stale reports whether claim v of k, written at created, is by a node that
// will never finish it: an earlier life of this node; this life, when no
// request of this node holds k (a create that timed out, yet landed: that
// request was refused); or a node that has not been alive for a node TTL
// (the margin covers a node whose liveness key this node's presence watch
// has not seen yet).
func (s *keyStore) stale(k string, v keyEntry, created time.Time) bool {
	if v.Node == s.b.node {
		if v.Life != s.life {
			return true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.held[k] == 0 && !time.Now().Before(s.kept[k])
	}
	return time.Since(created) > s.b.cfg.NodeTTL && !s.b.pres.nodeAlive(v.Node)
}

// keep marks k, whose run ended without its outcome recorded, as not to be
// taken over by this node until its window ends: the request ran, and must
// not run again. Marks past their time are dropped here.
func (s *keyStore) keep(k string, window time.Duration) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, until := range s.kept {
		if !now.Before(until) {
			delete(s.kept, key)
		}
	}
	s.kept[k] = now.Add(window)
}

// hold counts a request of this node claiming or running k (d = 1) or done
// with it (d = -1).
func (s *keyStore) hold(k string, d int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[k] += d; s.held[k] <= 0 {
		delete(s.held, k)
	}
}

// put writes value at k if k's last revision is rev, with the window as its
// TTL.
func (s *keyStore) put(ctx context.Context, k string, value []byte, rev uint64, window time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	ack, err := s.b.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + KeysKV + "." + k, Data: value},
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(window))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// storeTimeout bounds one write to the bucket that the caller's context
// does not bound.
const storeTimeout = 5 * time.Second

// keyRun is this node's claim of a key.
type keyRun struct {
	s      *keyStore
	key    string
	rev    uint64
	window time.Duration
}

// Finish implements broker.KeyedRun: the outcome replaces the claim, if the
// claim is still this node's.
func (r *keyRun) Finish(ctx context.Context, out broker.Outcome) error {
	defer r.s.hold(r.key, -1)
	v, err := json.Marshal(keyEntry{Node: r.s.b.node, Life: r.s.life, Done: true, Outcome: &out})
	if err != nil {
		return fmt.Errorf("record outcome: %w", err)
	}
	if _, err := r.s.put(ctx, r.key, v, r.rev, r.window); err != nil {
		r.s.keep(r.key, r.window)
		if isWrongLastSeq(err) {
			return fmt.Errorf("record outcome: another node took the key over (this node was thought dead): the request may have run twice: %w", err)
		}
		return fmt.Errorf("record outcome: %w", err)
	}
	return nil
}

// nodeAlive reports whether node's liveness key is in the presence bucket,
// as this node's watch last saw it.
func (p *presence) nodeAlive(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive[node]
}

// Release implements server.KeyedRun: the claim is purged (if it is still
// this node's), so that the key sent again, to any node, runs the request
// again. When the purge cannot be written now (NATS is away, which is most
// likely why the run was not applied) it is retried with the liveness
// heartbeat until it is written or the window ends; meanwhile this node
// takes the claim over at once (it holds the key no more), and another node
// waits for the purge.
func (r *keyRun) Release(ctx context.Context, _ broker.Outcome) error {
	defer r.s.hold(r.key, -1)
	if err := r.s.purge(ctx, r.key, r.rev, r.window); err != nil {
		r.s.mu.Lock()
		r.s.released[r.key] = releasedKey{rev: r.rev, until: time.Now().Add(r.window)}
		r.s.mu.Unlock()
		return fmt.Errorf("release key (retried): %w", err)
	}
	return nil
}

// purge removes claim rev of k, leaving a marker that expires with the
// window. A claim that is no longer rev (taken over, or finished) is left.
func (s *keyStore) purge(ctx context.Context, k string, rev uint64, window time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	err := s.kv.Purge(ctx, k, jetstream.LastRevision(rev), jetstream.PurgeTTL(window))
	if err != nil && !isWrongLastSeq(err) && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	return nil
}

// retryReleases writes the purges that failed, oldest window first; it stops
// at the first failure (NATS is still away).
func (s *keyStore) retryReleases(ctx context.Context) {
	now := time.Now()
	s.mu.Lock()
	todo := make(map[string]releasedKey, len(s.released))
	for k, r := range s.released {
		if now.After(r.until) {
			delete(s.released, k)
			continue
		}
		todo[k] = r
	}
	s.mu.Unlock()
	for k, r := range todo {
		if err := s.purge(ctx, k, r.rev, max(time.Until(r.until), time.Second)); err != nil {
			return
		}
		s.mu.Lock()
		if s.released[k] == r {
			delete(s.released, k)
		}
		s.mu.Unlock()
	}
}
