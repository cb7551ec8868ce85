package natsbroker

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// Names of the JetStream assets of maps and last values.
const (
	// MapBucketPrefix starts the name of each map's KV bucket:
	// TETHER_MAP_<map>.
	MapBucketPrefix = "TETHER_MAP_"
	// LastBucket keeps the rooms' last values.
	LastBucket = "TETHER_LAST"
	// mapMarkerTTL is how long a map's bucket keeps the marker NATS writes
	// when a key's TTL removes it (the marker is what watchers see as the
	// expiry).
	mapMarkerTTL = time.Hour
	// mapRewatchPause is the pause before a map's watch is started again
	// after it failed.
	mapRewatchPause = 250 * time.Millisecond
)

// OpenMap implements broker.Maps: each map is a JetStream KV bucket,
// TETHER_MAP_<name> (history 1, per-key TTL on), written by every node and
// watched by each node that opened it. Revisions are the bucket's.
func (b *Broker) OpenMap(ctx context.Context, name string, feed broker.MapFeed) (broker.MapStore, error) {
	if err := shared.ValidMapName(name); err != nil {
		return nil, fmt.Errorf("natsbroker: open map %q: %w", name, err)
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         MapBucketPrefix + name,
		Description:    "Tether map " + name,
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       b.cfg.Replicas,
		LimitMarkerTTL: mapMarkerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: open map %q: bucket: %w", name, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: open map %q: status: %w", name, err)
	}
	epoch := "0"
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo() != nil {
		// The bucket's creation: a map deleted and created again is a new
		// life, whose revisions say nothing about the old ones.
		epoch = strconv.FormatInt(bs.StreamInfo().Created.UnixNano(), 36)
	}
	mctx, cancel := context.WithCancel(b.ctx)
	m := &natsMap{b: b, name: name, kv: kv, epoch: epoch, feed: feed, ctx: mctx, cancel: cancel,
		subjPrefix: "$KV." + MapBucketPrefix + name + ".", rewatch: make(chan struct{}, 1)}
	b.mapsMu.Lock()
	b.maps[m] = struct{}{}
	b.mapsMu.Unlock()
	b.wg.Add(1)
	m.done.Add(1)
	go m.watchLoop()
	return m, nil
}

// natsMap is one open map: its bucket and its watch.
type natsMap struct {
	b          *Broker
	name       string
	kv         jetstream.KeyValue
	epoch      string
	feed       broker.MapFeed
	subjPrefix string

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup // the watch loop

	rewatch chan struct{} // capacity 1: NATS reconnected, watch again
	rev     uint64        // the last revision fed; watch loop only
	fed     bool          // a snapshot was fed; watch loop only
}

// rewatchMaps restarts every map's watch after NATS reconnected: a watch
// (an ordered consumer) does not always survive a NATS restart.
func (b *Broker) rewatchMaps() {
	b.mapsMu.Lock()
	defer b.mapsMu.Unlock()
	for m := range b.maps {
		select {
		case m.rewatch <- struct{}{}:
		default:
		}
	}
}

// watchLoop feeds the map to the node until the store is closed: a watch of
// every key (the latest value of each, then the changes, in stream order),
// and a new watch, with a new snapshot, whenever one ends.
func (m *natsMap) watchLoop() {
	defer m.b.wg.Done()
	defer m.done.Done()
	for m.ctx.Err() == nil {
		if err := m.watch(); err != nil && m.ctx.Err() == nil {
			m.b.log.Warn("map watch ended; watching again with a fresh snapshot", "map", m.name, "err", err)
			select {
			case <-m.ctx.Done():
			case <-time.After(mapRewatchPause):
			}
		}
	}
}

// watch runs one watch: the snapshot, then the changes. After a first
// snapshot, a watch resumes after the last revision fed instead: the
// bucket keeps each key's latest change (and its delete or expiry
// marker), so the changes from there bring the node's copy to the
// bucket's state, in order, without a new snapshot.
func (m *natsMap) watch() error {
	var opts []jetstream.WatchOpt
	if m.fed {
		opts = append(opts, jetstream.ResumeFromRevision(m.rev+1))
	}
	w, err := m.kv.WatchAll(m.ctx, opts...)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := make(map[string]broker.MapEntry)
	var rev uint64
	loading := !m.fed
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-m.ctx.Done():
			return nil
		case <-m.rewatch:
			return errors.New("NATS reconnected")
		case e, ok = <-w.Updates():
		}
		if !ok {
			return errors.New("the watcher stopped")
		}
		if e == nil { // the initial values are in
			if loading {
				loading = false
				st := broker.MapState{Epoch: m.epoch, Rev: rev, Entries: make([]broker.MapEntry, 0, len(initial))}
				for _, en := range initial {
					st.Entries = append(st.Entries, en)
				}
				m.feed.MapSnapshot(st)
				m.rev, m.fed = rev, true
			}
			continue
		}
		rev = max(rev, e.Revision())
		if !loading && e.Revision() <= m.rev {
			continue // fed already
		}
		if loading {
			if e.Operation() == jetstream.KeyValuePut {
				initial[e.Key()] = broker.MapEntry{Key: e.Key(), Rev: e.Revision(), Value: e.Value()}
			} else {
				delete(initial, e.Key())
			}
			continue
		}
		c := broker.MapChange{Rev: e.Revision(), Key: e.Key()}
		switch e.Operation() {
		case jetstream.KeyValuePut:
			c.Op, c.Value = shared.MapOpSet, e.Value()
		case jetstream.KeyValueDelete:
			c.Op = shared.MapOpDelete
		default: // a purge: this broker never purges; NATS marks a TTL removal so
			c.Op = shared.MapOpExpire
		}
		m.feed.MapChange(c)
		m.rev = c.Rev
	}
}

// Write implements broker.MapStore: a publish to the key's subject of the
// bucket, conditional on the key's last revision (the KV's own
// compare-and-set) and with a per-message TTL when asked.
func (m *natsMap) Write(ctx context.Context, w broker.MapWrite) (uint64, error) {
	if err := shared.ValidMapKey(w.Key); err != nil {
		return 0, fmt.Errorf("natsbroker: map %q: %w", m.name, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	if w.IfRev != nil && *w.IfRev == 0 {
		return m.create(ctx, w)
	}
	msg := nats.NewMsg(m.subjPrefix + w.Key)
	var opts []jetstream.PublishOpt
	if w.Delete {
		msg.Header.Set("KV-Operation", "DEL")
	} else {
		msg.Data = w.Value
		if w.TTL > 0 {
			opts = append(opts, jetstream.WithMsgTTL(natsTTL(w.TTL)))
		}
	}
	if w.IfRev != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*w.IfRev))
	}
	ack, err := m.b.js.PublishMsg(ctx, msg, opts...)
	if isWrongLastSeq(err) {
		return 0, broker.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("natsbroker: map %q write %q: %w", m.name, w.Key, err)
	}
	return ack.Sequence, nil
}

// create writes a key that must not exist (IfRev 0): KV's Create for a set
// (a deleted or expired key does not exist); for a delete, nothing to do
// unless the key exists, which is a conflict.
func (m *natsMap) create(ctx context.Context, w broker.MapWrite) (uint64, error) {
	if w.Delete {
		if _, err := m.kv.Get(ctx, w.Key); err == nil {
			return 0, broker.ErrConflict
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, fmt.Errorf("natsbroker: map %q delete %q: %w", m.name, w.Key, err)
		}
		st, err := m.kv.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("natsbroker: map %q delete %q: %w", m.name, w.Key, err)
		}
		return stateRev(st), nil // nothing changed: the map's revision
	}
	var opts []jetstream.KVCreateOpt
	if w.TTL > 0 {
		opts = append(opts, jetstream.KeyTTL(natsTTL(w.TTL)))
	}
	rev, err := m.kv.Create(ctx, w.Key, w.Value, opts...)
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSeq(err) {
		return 0, broker.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("natsbroker: map %q create %q: %w", m.name, w.Key, err)
	}
	return rev, nil
}

// stateRev is a bucket's last revision.
func stateRev(st jetstream.KeyValueStatus) uint64 {
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo() != nil {
		return bs.StreamInfo().State.LastSeq
	}
	return 0
}

// natsTTL rounds d up to whole seconds, at least one: NATS's per-message
// TTL has a resolution of a second.
func natsTTL(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// Close implements broker.MapStore: the watch stops.
func (m *natsMap) Close() error {
	m.cancel()
	m.done.Wait()
	m.b.mapsMu.Lock()
	delete(m.b.maps, m)
	m.b.mapsMu.Unlock()
	return nil
}

// --- last values ---

// lastRecord is a last value as the TETHER_LAST bucket keeps it.
type lastRecord struct {
	Epoch   string `json:"epoch"`
	Seq     uint64 `json:"seq"`
	Type    string `json:"type"`
	TimeMS  int64  `json:"time_ms"`
	Payload []byte `json:"payload"`
}

func (r lastRecord) publication() broker.Publication {
	return broker.Publication{Epoch: r.Epoch, Seq: r.Seq, Type: r.Type, Payload: r.Payload, Time: time.UnixMilli(r.TimeMS)}
}

// lastKey is the key of room's slot in TETHER_LAST: both base64url, as
// room names and slots may hold characters a key may not.
func lastKey(room, slot string) string {
	return lastRoomKey(room) + "." + base64.RawURLEncoding.EncodeToString([]byte(slot))
}

func lastRoomKey(room string) string { return base64.RawURLEncoding.EncodeToString([]byte(room)) }

// lastBucket opens TETHER_LAST, creating it on first use.
func (b *Broker) lastBucket(ctx context.Context) (jetstream.KeyValue, error) {
	b.lastMu.Lock()
	defer b.lastMu.Unlock()
	if b.last != nil {
		return b.last, nil
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LastBucket,
		Description: "Tether: the last values of rooms",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", LastBucket, err)
	}
	b.last = kv
	return kv, nil
}

// SetLast implements broker.LastValues: a compare-and-set on the slot's
// key, so that of two nodes racing the newer publication stays.
func (b *Broker) SetLast(ctx context.Context, room, slot string, p broker.Publication) error {
	kv, err := b.lastBucket(ctx)
	if err != nil {
		return err
	}
	key := lastKey(room, slot)
	val, err := json.Marshal(lastRecord{Epoch: p.Epoch, Seq: p.Seq, Type: p.Type, TimeMS: p.Time.UnixMilli(), Payload: p.Payload})
	if err != nil {
		return fmt.Errorf("natsbroker: last value of %q: %w", room, err)
	}
	for range publishTries {
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err = kv.Create(ctx, key, val); err == nil {
				return nil
			}
		case err != nil:
			return fmt.Errorf("natsbroker: last value of %q: %w", room, err)
		default:
			var cur lastRecord
			if json.Unmarshal(e.Value(), &cur) == nil && !broker.NewerPublication(p, cur.publication()) {
				return nil
			}
			if _, err = kv.Update(ctx, key, val, e.Revision()); err == nil {
				return nil
			}
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSeq(err) {
			return fmt.Errorf("natsbroker: last value of %q: %w", room, err)
		}
	}
	return fmt.Errorf("natsbroker: last value of %q: too much contention", room)
}

// sortByTime orders last values oldest first: by time, then seq.
func sortByTime(ps []broker.Publication) {
	slices.SortFunc(ps, func(a, b broker.Publication) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})
}

// Last implements broker.LastValues: a watch of the room's keys, read to
// the end of their current values.
func (b *Broker) Last(ctx context.Context, room string) ([]broker.Publication, error) {
	kv, err := b.lastBucket(ctx)
	if err != nil {
		return nil, err
	}
	w, err := kv.Watch(ctx, lastRoomKey(room)+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("natsbroker: last values of %q: %w", room, err)
	}
	defer func() { _ = w.Stop() }()
	var out []broker.Publication
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsbroker: last values of %q: %w", room, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("natsbroker: last values of %q: the watcher stopped", room)
			}
			if e == nil {
				sortByTime(out)
				return out, nil
			}
			var r lastRecord
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				b.log.Warn("undecodable last value", "room", room, "key", e.Key(), "err", err)
				continue
			}
			out = append(out, r.publication())
		}
	}
}
