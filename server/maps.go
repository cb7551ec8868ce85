package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// Defaults of MapOptions.
const (
	// DefaultMapChanges is how many of a map's latest changes a node keeps,
	// so that a client resuming after a cut catches up by changes.
	DefaultMapChanges = 10_000
	// mapPageEntries and mapPageBytes bound a snapshot page.
	mapPageEntries = 500
	mapPageBytes   = 60 << 10
)

// MapOptions configures a map of a Server (NewMap).
type MapOptions struct {
	// Changes is how many of the map's latest changes this node keeps for
	// clients that resume; a client whose position is older gets a fresh
	// snapshot. 0: DefaultMapChanges.
	Changes int
	// MaxValueBytes bounds the JSON of a value written by a client; 0:
	// shared.DefaultMapValueBytes.
	MaxValueBytes int
}

// Map is a keyed-state room of a Server (docs/protocol.md §11): a map from
// keys of type K to values of type V that every subscribed client holds a
// copy of (client.Map), kept in step change by change. Its writes go to the
// broker (in a cluster, NATS JetStream KV: every node sees them); its reads
// are of this node's copy, which follows every change of the map. Create it
// with NewMap.
type Map[K ~string, V any] struct {
	r *mapRoom
}

// Entry is a key's value in a Map with the revision that set it.
type Entry[V any] struct {
	// Value is the value.
	Value V
	// Rev is the revision of the change that set it.
	Rev uint64
}

// ErrConflict is returned by a conditional write (IfRev) whose key's
// revision moved: nothing was written; read the key again and retry.
var ErrConflict = broker.ErrConflict

// MapWriteOption conditions a Map write.
type MapWriteOption func(*broker.MapWrite)

// IfRev makes a write conditional: it is applied only if the key's current
// revision is rev (0: only if the key does not exist); otherwise it fails
// with ErrConflict and changes nothing.
func IfRev(rev uint64) MapWriteOption { return func(w *broker.MapWrite) { w.IfRev = &rev } }

// TTL makes the key expire d after the write (a set only), unless written
// again: subscribers then get an expire change.
func TTL(d time.Duration) MapWriteOption { return func(w *broker.MapWrite) { w.TTL = d } }

// ClientWrite is a client's map.set or map.delete, as the application's
// write handler (Map.OnWrite) sees it.
type ClientWrite[K ~string, V any] struct {
	// Conn is the writing connection (its User, Member).
	Conn *Conn
	// Key is the key.
	Key K
	// Value is the value to set (zero for a delete).
	Value V
	// Delete is set for a map.delete.
	Delete bool
	// IfRev is the condition the client gave, if any; the write is made
	// with it.
	IfRev *uint64
	// TTL is the TTL the client gave (0: none).
	TTL time.Duration
}

// NewMap declares the map name on s, opens it in the broker and returns
// once this node holds its current state. A name can be declared once per
// server. Clients subscribe to it with map.sub; they can write to it only
// once OnWrite has installed a write handler.
func NewMap[K ~string, V any](ctx context.Context, s *Server, name string, opts MapOptions) (*Map[K, V], error) {
	if err := shared.ValidMapName(name); err != nil {
		return nil, fmt.Errorf("new map %q: %w", name, err)
	}
	if opts.Changes < 0 || opts.MaxValueBytes < 0 {
		return nil, fmt.Errorf("new map %q: MapOptions.Changes and MaxValueBytes may not be negative", name)
	}
	if opts.Changes == 0 {
		opts.Changes = DefaultMapChanges
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = shared.DefaultMapValueBytes
	}
	r := &mapRoom{s: s, name: name, opts: opts, loaded: make(chan struct{}), subs: make(map[*Conn]struct{})}
	s.mapsMu.Lock()
	if _, dup := s.maps[name]; dup {
		s.mapsMu.Unlock()
		return nil, fmt.Errorf("new map %q: the server has a map of that name already", name)
	}
	s.maps[name] = r
	s.mapsMu.Unlock()
	st, err := s.broker.OpenMap(ctx, name, r)
	if err == nil {
		select {
		case <-r.loaded:
		case <-ctx.Done():
			_ = st.Close()
			err = ctx.Err()
		}
	}
	if err != nil {
		s.mapsMu.Lock()
		delete(s.maps, name)
		s.mapsMu.Unlock()
		return nil, fmt.Errorf("new map %q: %w", name, err)
	}
	r.mu.Lock()
	r.store = st
	r.mu.Unlock()
	return &Map[K, V]{r: r}, nil
}

// Name returns the map's name.
func (m *Map[K, V]) Name() string { return m.r.name }

// Set sets key to v and returns the change's revision. With IfRev it fails
// with ErrConflict when the key's revision moved.
func (m *Map[K, V]) Set(ctx context.Context, key K, v V, opts ...MapWriteOption) (uint64, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("map %q set %q: %w", m.r.name, key, err)
	}
	w := broker.MapWrite{Key: string(key), Value: raw}
	for _, o := range opts {
		o(&w)
	}
	return m.r.write(ctx, w)
}

// Delete removes key and returns the change's revision. With IfRev it fails
// with ErrConflict when the key's revision moved.
func (m *Map[K, V]) Delete(ctx context.Context, key K, opts ...MapWriteOption) (uint64, error) {
	w := broker.MapWrite{Key: string(key), Delete: true}
	for _, o := range opts {
		o(&w)
	}
	w.TTL = 0
	return m.r.write(ctx, w)
}

// Get returns key's value in this node's copy and the revision that set it.
// In a cluster a write made on another node reaches the copy within
// milliseconds; Set's revision tells when.
func (m *Map[K, V]) Get(key K) (V, uint64, bool) {
	var v V
	m.r.mu.Lock()
	e, ok := m.r.entries[string(key)]
	m.r.mu.Unlock()
	if !ok {
		return v, 0, false
	}
	if err := json.Unmarshal(e.Value, &v); err != nil {
		return v, 0, false
	}
	return v, e.Rev, true
}

// All returns this node's copy of the map, the values that decode as V.
func (m *Map[K, V]) All() map[K]Entry[V] {
	m.r.mu.Lock()
	raw := make([]broker.MapEntry, 0, len(m.r.entries))
	for _, e := range m.r.entries {
		raw = append(raw, e)
	}
	m.r.mu.Unlock()
	out := make(map[K]Entry[V], len(raw))
	for _, e := range raw {
		var v V
		if json.Unmarshal(e.Value, &v) == nil {
			out[K(e.Key)] = Entry[V]{Value: v, Rev: e.Rev}
		}
	}
	return out
}

// Position returns the epoch and revision of this node's copy.
func (m *Map[K, V]) Position() (epoch string, rev uint64) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	return m.r.epoch, m.r.rev
}

// OnWrite installs the handler of clients' writes (map.set, map.delete):
// fn decides whether the write is made, and may change the value; its
// error refuses it (a *shared.Error as is, e.g. code forbidden; any other
// error as rejected with its text). The write is then made with the
// client's IfRev and TTL. Without a handler clients cannot write.
func (m *Map[K, V]) OnWrite(fn func(ctx context.Context, w ClientWrite[K, V]) (V, error)) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	m.r.onWrite = func(ctx context.Context, c *Conn, key string, value json.RawMessage, del bool, ifRev *uint64, ttl time.Duration) (broker.MapWrite, error) {
		cw := ClientWrite[K, V]{Conn: c, Key: K(key), Delete: del, IfRev: ifRev, TTL: ttl}
		if !del {
			dec := json.NewDecoder(bytes.NewReader(value))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cw.Value); err != nil {
				return broker.MapWrite{}, &shared.Error{Code: shared.CodeBadData, Field: fieldPath("data.value", err),
					Message: fmt.Sprintf("The value does not fit map %q: %v.", m.r.name, err)}
			}
		}
		v, err := fn(ctx, cw)
		if err != nil {
			return broker.MapWrite{}, err
		}
		w := broker.MapWrite{Key: key, Delete: del, IfRev: ifRev, TTL: ttl}
		if !del {
			if w.Value, err = json.Marshal(v); err != nil {
				return broker.MapWrite{}, fmt.Errorf("encode value: %w", err)
			}
		}
		return w, nil
	}
}

// CanSubscribe installs a check of subscriptions: fn's error refuses the
// client's map.sub with code forbidden (or the *shared.Error's code). Without
// it every connection may subscribe.
func (m *Map[K, V]) CanSubscribe(fn func(ctx context.Context, c *Conn) error) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	m.r.canSub = fn
}

// fieldPath names the JSON field a decode error is about, under prefix.
func fieldPath(prefix string, err error) string {
	if f := shared.JSONField(err); f != "" {
		return prefix + "." + f
	}
	return prefix
}

// mapRoom is this node's side of a map: its copy (fed by the broker), the
// latest changes for resumes, and the subscribed connections here.
type mapRoom struct {
	s      *Server
	name   string
	opts   MapOptions
	loaded chan struct{} // closed at the first snapshot

	mu      sync.Mutex
	store   broker.MapStore
	epoch   string
	rev     uint64
	entries map[string]broker.MapEntry
	log     []broker.MapChange // the latest changes, oldest first
	logFrom uint64             // log holds every change after this revision
	subs    map[*Conn]struct{}
	onWrite func(ctx context.Context, c *Conn, key string, value json.RawMessage, del bool, ifRev *uint64, ttl time.Duration) (broker.MapWrite, error)
	canSub  func(ctx context.Context, c *Conn) error
}

// MapSnapshot implements broker.MapFeed: the copy is replaced, and every
// subscriber here gets the new snapshot (an unsolicited map.subscribed).
func (r *mapRoom) MapSnapshot(st broker.MapState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch, r.rev = st.Epoch, st.Rev
	r.entries = make(map[string]broker.MapEntry, len(st.Entries))
	for _, e := range st.Entries {
		r.entries[e.Key] = e
	}
	r.log, r.logFrom = nil, st.Rev
	select {
	case <-r.loaded:
	default:
		close(r.loaded)
		return
	}
	for c := range r.subs {
		if f, err := r.snapshotFrames(0); err == nil {
			_ = c.enqueue(f)
		}
	}
}

// broker.MapChange implements broker.MapFeed: the change is applied to the copy, kept for
// resumes, and sent to every subscriber here, framed once.
func (r *mapRoom) MapChange(ch broker.MapChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch.Rev <= r.rev {
		return // the broker promised no repeat; hold to it anyway
	}
	switch ch.Op {
	case shared.MapOpSet:
		r.entries[ch.Key] = broker.MapEntry{Key: ch.Key, Rev: ch.Rev, Value: ch.Value}
	default:
		delete(r.entries, ch.Key)
	}
	r.rev = ch.Rev
	r.log = append(r.log, ch)
	if over := len(r.log) - r.opts.Changes; over > r.opts.Changes/4 {
		r.logFrom = r.log[over-1].Rev
		r.log = slices.Delete(r.log, 0, over)
	}
	if len(r.subs) == 0 {
		return
	}
	f, err := prepare(shared.Envelope{}, changeMsg(r.name, ch))
	if err != nil {
		r.s.log.Error("map change not framed", "map", r.name, "err", err)
		return
	}
	for c := range r.subs {
		_ = c.enqueue(f) // a full queue closes c (4002); it resumes
	}
}

func changeMsg(name string, ch broker.MapChange) shared.MapChange {
	return shared.MapChange{Map: name, Rev: ch.Rev, Op: ch.Op, Key: ch.Key, Value: ch.Value}
}

// snapshotFrames frames map.subscribed (with request id reqID, 0: none) and
// the pages of the copy's snapshot, as one batch. Called with mu held.
func (r *mapRoom) snapshotFrames(reqID uint64) (*outFrame, error) {
	keys := make([]string, 0, len(r.entries))
	for k := range r.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pages [][]shared.MapEntry
	var page []shared.MapEntry
	size := 0
	for _, k := range keys {
		e := r.entries[k]
		if len(page) == mapPageEntries || (len(page) > 0 && size+len(e.Value)+len(k)+32 > mapPageBytes) {
			pages, page, size = append(pages, page), nil, 0
		}
		page = append(page, shared.MapEntry{Key: k, Rev: e.Rev, Value: e.Value})
		size += len(e.Value) + len(k) + 32
	}
	if len(page) > 0 {
		pages = append(pages, page)
	}
	sub := shared.MapSubscribed{Map: r.name, Epoch: r.epoch, Rev: r.rev, Snapshot: true, Keys: len(keys), Pages: len(pages)}
	batch := make([]*outFrame, 0, 1+len(pages))
	f, err := encode(shared.Envelope{ID: reqID}, sub)
	if err != nil {
		return nil, err
	}
	batch = append(batch, f)
	for i, p := range pages {
		f, err := encode(shared.Envelope{}, shared.MapSnapshot{Map: r.name, Epoch: r.epoch, Rev: r.rev, Entries: p, More: i < len(pages)-1})
		if err != nil {
			return nil, err
		}
		batch = append(batch, f)
	}
	return &outFrame{batch: batch}, nil
}

// catchUpFrames frames map.subscribed and the changes after rev, when the
// log has them all; ok is false when it does not. Called with mu held.
func (r *mapRoom) catchUpFrames(reqID uint64, epoch string, rev uint64) (f *outFrame, ok bool, err error) {
	if epoch != r.epoch || rev > r.rev || rev < r.logFrom {
		return nil, false, nil
	}
	i, _ := slices.BinarySearchFunc(r.log, rev+1, func(c broker.MapChange, rev uint64) int {
		switch {
		case c.Rev < rev:
			return -1
		case c.Rev > rev:
			return 1
		}
		return 0
	})
	changes := r.log[i:]
	batch := make([]*outFrame, 0, 1+len(changes))
	head, err := encode(shared.Envelope{ID: reqID}, shared.MapSubscribed{Map: r.name, Epoch: r.epoch, Rev: r.rev, Changes: len(changes)})
	if err != nil {
		return nil, false, err
	}
	batch = append(batch, head)
	for _, ch := range changes {
		f, err := encode(shared.Envelope{}, changeMsg(r.name, ch))
		if err != nil {
			return nil, false, err
		}
		batch = append(batch, f)
	}
	return &outFrame{batch: batch}, true, nil
}

// write makes w through the broker.
func (r *mapRoom) write(ctx context.Context, w broker.MapWrite) (uint64, error) {
	if err := shared.ValidMapKey(w.Key); err != nil {
		return 0, fmt.Errorf("map %q write %q: %w", r.name, w.Key, err)
	}
	if w.TTL < 0 || w.TTL > time.Duration(shared.MaxMapTTLMS)*time.Millisecond {
		return 0, fmt.Errorf("map %q write %q: TTL %s is outside 0 to 30 days", r.name, w.Key, w.TTL)
	}
	r.mu.Lock()
	st := r.store
	r.mu.Unlock()
	rev, err := st.Write(ctx, w)
	if err != nil {
		return 0, fmt.Errorf("map %q write %q: %w", r.name, w.Key, err)
	}
	return rev, nil
}

// unsubscribe takes c out of the map's subscribers.
func (r *mapRoom) unsubscribe(c *Conn) {
	r.mu.Lock()
	delete(r.subs, c)
	r.mu.Unlock()
	c.mu.Lock()
	c.maps.remove(r.name)
	c.mu.Unlock()
}

// mapRoomOf returns the server's map called name, or sends c not_found.
func (s *Server) mapRoomOf(c *Conn, reqID uint64, name string) *mapRoom {
	s.mapsMu.Lock()
	r := s.maps[name]
	s.mapsMu.Unlock()
	if r == nil {
		c.sendError(reqID, &shared.Error{Code: shared.CodeNotFound, Field: "data.map", Message: fmt.Sprintf("There is no map %q.", name)})
	}
	return r
}

// mapSub handles map.sub: under the map's lock, the answer, then the
// snapshot or the catch-up, as one batch, after which c gets every change.
func (s *Server) mapSub(c *Conn, reqID uint64, m shared.MapSub) {
	r := s.mapRoomOf(c, reqID, m.Map)
	if r == nil {
		return
	}
	r.mu.Lock()
	canSub := r.canSub
	r.mu.Unlock()
	if canSub != nil {
		if err := canSub(c.Context(), c); err != nil {
			e := wireError(err)
			if e.Code == shared.CodeRejected {
				e.Code = shared.CodeForbidden
			}
			c.sendError(reqID, e)
			return
		}
	}
	c.mu.Lock()
	full := !c.maps.has(m.Map) && s.cfg.MaxRoomsPerConn > 0 && len(c.maps) >= s.cfg.MaxRoomsPerConn
	if !full {
		c.maps.add(m.Map)
	}
	c.mu.Unlock()
	if full {
		c.sendError(reqID, &shared.Error{Code: shared.CodeTooManyRooms, Field: "data.map",
			Message: fmt.Sprintf("This connection holds %d maps, the most allowed: unsubscribe one first.", s.cfg.MaxRoomsPerConn)})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok, err := r.catchUpFrames(reqID, m.Epoch, m.Rev)
	if err == nil && !ok {
		f, err = r.snapshotFrames(reqID)
	}
	if err != nil {
		s.onError(c, fmt.Errorf("map.sub %q: %w", m.Map, err))
		c.sendError(reqID, &shared.Error{Code: shared.CodeInternal, Message: "the map is not available, try again"})
		return
	}
	if c.enqueue(f) == nil {
		r.subs[c] = struct{}{}
	}
}

// mapUnsub handles map.unsub. Nothing of the map follows its reply.
func (s *Server) mapUnsub(c *Conn, reqID uint64, m shared.MapUnsub) {
	s.mapsMu.Lock()
	r := s.maps[m.Map]
	s.mapsMu.Unlock()
	if r != nil {
		r.unsubscribe(c)
	}
	c.replyOK(reqID)
}

// unsubscribeMaps takes a closed connection out of its maps.
func (s *Server) unsubscribeMaps(c *Conn) {
	c.mu.Lock()
	names := c.maps.list()
	c.mu.Unlock()
	for _, name := range names {
		s.mapsMu.Lock()
		r := s.maps[name]
		s.mapsMu.Unlock()
		if r != nil {
			r.unsubscribe(c)
		}
	}
}

// mapWrite handles map.set and map.delete: the application's write handler
// decides, then the broker writes.
func (s *Server) mapWrite(c *Conn, reqID uint64, name, key string, value json.RawMessage, del bool, ifRev *uint64, ttlMS int64) {
	r := s.mapRoomOf(c, reqID, name)
	if r == nil {
		return
	}
	if !del && len(value) > r.opts.MaxValueBytes {
		c.sendError(reqID, &shared.Error{Code: shared.CodeBadData, Field: "data.value",
			Message: fmt.Sprintf("The value is %d bytes of JSON; map %q takes at most %d.", len(value), name, r.opts.MaxValueBytes)})
		return
	}
	r.mu.Lock()
	onWrite := r.onWrite
	r.mu.Unlock()
	if onWrite == nil {
		c.sendError(reqID, &shared.Error{Code: shared.CodeForbidden, Message: fmt.Sprintf("Map %q takes no writes from clients.", name)})
		return
	}
	ctx, cancel := context.WithTimeout(c.Context(), brokerTimeout)
	defer cancel()
	w, err := onWrite(ctx, c, key, value, del, ifRev, time.Duration(ttlMS)*time.Millisecond)
	if err != nil {
		c.sendError(reqID, wireError(err))
		return
	}
	rev, err := r.write(ctx, w)
	switch {
	case errors.Is(err, broker.ErrConflict):
		c.sendError(reqID, &shared.Error{Code: shared.CodeConflict, Field: "data.if_rev",
			Message: fmt.Sprintf("Key %q of map %q has changed since revision %d: apply the change and try again.", key, name, derefRev(ifRev))})
	case err != nil:
		s.onError(c, fmt.Errorf("map write: %w", err))
		c.sendError(reqID, &shared.Error{Code: shared.CodeUnavailable,
			Message: "the write could not be made now (it may have been, if the connection to the store broke): try again, with if_rev to be sure"})
	default:
		_ = c.sendEnv(shared.Envelope{ID: reqID}, shared.MapWritten{Map: name, Key: key, Rev: rev})
	}
}

func derefRev(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// closeMaps closes every map's store; called by Shutdown.
func (s *Server) closeMaps() {
	s.mapsMu.Lock()
	rooms := make([]*mapRoom, 0, len(s.maps))
	for _, r := range s.maps {
		rooms = append(rooms, r)
	}
	s.mapsMu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		st := r.store
		r.mu.Unlock()
		if st != nil {
			if err := st.Close(); err != nil {
				s.log.Warn("map close failed", "map", r.name, "err", err)
			}
		}
	}
}
