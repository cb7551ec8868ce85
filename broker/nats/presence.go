package natsbroker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// presence is the cluster's presence as this node sees it, from watching
// the TETHER_PRESENCE bucket. Keys: n.<node> is a node's liveness (with a
// TTL, refreshed), r.<room token>.<conn> a connection in a room.
type presence struct {
	b  *Broker
	kv jetstream.KeyValue
	wg sync.WaitGroup

	wmu sync.Mutex // guards w
	w   jetstream.KeyWatcher

	mu      sync.Mutex
	rev     uint64        // the last revision processed
	changed chan struct{} // closed and replaced when rev moves
	synced  bool
	rooms   map[string]map[string]*presUser // room → user
	entries map[string]presEntry            // by key
	alive   map[string]bool                 // nodes
	own     map[string][]byte               // this node's room keys, to announce again
	undone  map[string]bool                 // this node's keys whose delete failed, retried
}

// presEntry is one connection in a room.
type presEntry struct {
	Room string `json:"room"`
	Conn string `json:"conn"`
	Node string `json:"node"`
	User string `json:"user"`
	Name string `json:"name"`
}

// presUser is one user in a room, with their connections anywhere.
type presUser struct {
	member shared.Member
	conns  map[string]bool
}

func newPresence(ctx context.Context, b *Broker) (*presence, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         PresenceKV,
		Description:    "Tether: who is in which room, on which node",
		LimitMarkerTTL: b.cfg.NodeTTL,
		Replicas:       b.cfg.Replicas,
		Storage:        jetstream.FileStorage, // survives a NATS restart
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", PresenceKV, err)
	}
	p := &presence{
		b: b, kv: kv,
		changed: make(chan struct{}),
		rooms:   make(map[string]map[string]*presUser),
		entries: make(map[string]presEntry),
		alive:   make(map[string]bool),
		own:     make(map[string][]byte),
		undone:  make(map[string]bool),
	}
	rev, err := p.beat(ctx)
	if err != nil {
		return nil, err
	}
	if p.w, err = kv.WatchAll(b.ctx); err != nil {
		return nil, fmt.Errorf("natsbroker: watch %s: %w", PresenceKV, err)
	}
	p.wg.Add(2)
	go p.watch()
	go p.heartbeat()
	if err := p.waitRev(ctx, rev); err != nil {
		p.stop()
		return nil, fmt.Errorf("natsbroker: presence: %w", err)
	}
	return p, nil
}

func nodeKey(node string) string              { return "n." + node }
func roomKey(room, conn string) string        { return "r." + token(room) + "." + conn }
func (p *presence) subject(key string) string { return "$KV." + PresenceKV + "." + key }

// beat refreshes this node's liveness key.
func (p *presence) beat(ctx context.Context) (uint64, error) {
	ack, err := p.b.js.PublishMsg(ctx, &nats.Msg{Subject: p.subject(nodeKey(p.b.node)), Data: []byte(time.Now().UTC().Format(time.RFC3339))},
		jetstream.WithMsgTTL(p.b.cfg.NodeTTL))
	if err != nil {
		return 0, fmt.Errorf("natsbroker: liveness: %w", err)
	}
	return ack.Sequence, nil
}

// heartbeat refreshes the liveness key three times per NodeTTL.
func (p *presence) heartbeat() {
	defer p.wg.Done()
	t := time.NewTicker(p.b.cfg.NodeTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-p.b.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(p.b.ctx, p.b.cfg.NodeTTL/3)
			if _, err := p.beat(ctx); err != nil {
				p.b.log.Warn("liveness refresh failed", "err", err)
			}
			p.retryDeletes(ctx)
			cancel()
		}
	}
}

// stop ends the watch, and removes this node's keys so that the others see
// its members leave now rather than after NodeTTL.
func (p *presence) stop() {
	p.wmu.Lock()
	if p.w != nil {
		_ = p.w.Stop()
	}
	p.wmu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	keys := make([]string, 0, len(p.own)+len(p.undone)+1)
	for k := range p.own {
		keys = append(keys, k)
	}
	for k := range p.undone {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	keys = append(keys, nodeKey(p.b.node))
	for _, k := range keys {
		_ = p.b.nc.PublishMsg(p.delMsg(k))
	}
	_ = p.b.nc.FlushTimeout(time.Second)
}

// retryDeletes deletes again the keys whose delete failed (NATS was away).
func (p *presence) retryDeletes(ctx context.Context) {
	p.mu.Lock()
	keys := make([]string, 0, len(p.undone))
	for k := range p.undone {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	for _, k := range keys {
		if _, err := p.b.js.PublishMsg(ctx, p.delMsg(k)); err != nil {
			return
		}
		p.mu.Lock()
		delete(p.undone, k)
		p.mu.Unlock()
	}
}

// delMsg is the KV delete of key.
func (p *presence) delMsg(key string) *nats.Msg {
	m := nats.NewMsg(p.subject(key))
	m.Header.Set("KV-Operation", "DEL")
	return m
}

// watch applies the bucket's changes, in order. When the watcher ends
// before the broker does (rewatch, after NATS came back), it watches again
// from the revision after the last one applied.
func (p *presence) watch() {
	defer p.wg.Done()
	for {
		p.wmu.Lock()
		w := p.w
		p.wmu.Unlock()
		for e := range w.Updates() {
			if e == nil {
				p.sync()
				continue
			}
			p.apply(e)
		}
		for {
			if p.b.ctx.Err() != nil {
				return
			}
			p.mu.Lock()
			from := p.rev + 1
			p.mu.Unlock()
			nw, err := p.kv.WatchAll(p.b.ctx, jetstream.ResumeFromRevision(from))
			if err == nil {
				p.wmu.Lock()
				p.w = nw
				p.wmu.Unlock()
				break
			}
			p.b.log.Warn("presence watch failed, retrying", "err", err)
			select {
			case <-p.b.ctx.Done():
				return
			case <-time.After(p.b.cfg.NodeTTL / 5):
			}
		}
	}
}

// rewatch restarts the watch: after a reconnect its consumer may be gone
// with the NATS server that had it.
func (p *presence) rewatch() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.w != nil {
		_ = p.w.Stop()
	}
}

// event is a presence change to deliver.
type event struct {
	room string
	e    broker.PresenceEvent
}

// sync ends the initial replay of the bucket: entries of nodes that are no
// longer alive are dropped (and deleted).
func (p *presence) sync() {
	p.mu.Lock()
	var dead []string
	for key, e := range p.entries {
		if !p.alive[e.Node] {
			dead = append(dead, key)
			p.removeLocked(key)
		}
	}
	p.synced = true
	p.bump(p.rev)
	p.mu.Unlock()
	for _, k := range dead {
		_ = p.b.nc.PublishMsg(p.delMsg(k))
	}
}

// apply processes one change of the bucket.
func (p *presence) apply(e jetstream.KeyValueEntry) {
	key, deleted := e.Key(), e.Operation() != jetstream.KeyValuePut
	var events []event
	var cleanup []string
	reannounce := false
	p.mu.Lock()
	switch {
	case strings.HasPrefix(key, "n."):
		node := key[2:]
		if !deleted {
			p.alive[node] = true
			break
		}
		delete(p.alive, node)
		if node == p.b.node {
			reannounce = true // we were taken for dead: say we are here
			break
		}
		for k, en := range p.entries {
			if en.Node == node {
				events = append(events, p.removeLocked(k)...)
				cleanup = append(cleanup, k)
			}
		}
	case strings.HasPrefix(key, "r."):
		if deleted {
			events = p.removeLocked(key)
			break
		}
		var en presEntry
		if err := json.Unmarshal(e.Value(), &en); err != nil {
			p.b.log.Warn("bad presence entry", "key", key, "err", err)
			break
		}
		events = p.addLocked(key, en)
	}
	synced := p.synced
	p.bump(e.Revision())
	p.mu.Unlock()

	if synced {
		p.deliver(events)
	}
	for _, k := range cleanup {
		_ = p.b.nc.PublishMsg(p.delMsg(k))
	}
	if reannounce {
		p.announce()
	}
}

// bump records rev as processed and wakes the waiters. Called with mu held.
func (p *presence) bump(rev uint64) {
	p.rev = max(p.rev, rev)
	close(p.changed)
	p.changed = make(chan struct{})
}

// addLocked records en; a user's first connection in the room is a join.
func (p *presence) addLocked(key string, en presEntry) []event {
	if _, ok := p.entries[key]; ok {
		return nil
	}
	p.entries[key] = en
	users := p.rooms[en.Room]
	if users == nil {
		users = make(map[string]*presUser)
		p.rooms[en.Room] = users
	}
	u := users[en.User]
	first := u == nil
	if first {
		u = &presUser{member: shared.Member{User: en.User, Name: en.Name}, conns: make(map[string]bool)}
		users[en.User] = u
	}
	u.conns[en.Conn] = true
	if !first {
		return nil
	}
	return []event{{room: en.Room, e: broker.PresenceEvent{Join: true, Member: u.member, Conn: en.Conn}}}
}

// removeLocked forgets the entry of key; a user's last connection in the
// room is a leave.
func (p *presence) removeLocked(key string) []event {
	en, ok := p.entries[key]
	if !ok {
		return nil
	}
	delete(p.entries, key)
	users := p.rooms[en.Room]
	u := users[en.User]
	if u == nil {
		return nil
	}
	delete(u.conns, en.Conn)
	if len(u.conns) > 0 {
		return nil
	}
	delete(users, en.User)
	if len(users) == 0 {
		delete(p.rooms, en.Room)
	}
	conn := en.Conn
	if en.Node != p.b.node && !p.alive[en.Node] {
		conn = "" // its node died
	}
	return []event{{room: en.Room, e: broker.PresenceEvent{Join: false, Member: u.member, Conn: conn}}}
}

// deliver hands events to the handler for the rooms this node subscribed.
func (p *presence) deliver(events []event) {
	h := p.b.handler()
	if h == nil {
		return
	}
	for _, ev := range events {
		p.b.mu.Lock()
		_, subscribed := p.b.feeds[ev.room]
		p.b.mu.Unlock()
		if subscribed {
			h.HandlePresence(ev.room, ev.e)
		}
	}
}

// announce writes this node's liveness and room keys again.
func (p *presence) announce() {
	ctx, cancel := context.WithTimeout(p.b.ctx, p.b.cfg.NodeTTL)
	defer cancel()
	if _, err := p.beat(ctx); err != nil {
		p.b.log.Warn("liveness refresh failed", "err", err)
	}
	p.mu.Lock()
	own := make(map[string][]byte, len(p.own))
	for k, v := range p.own {
		own[k] = v
	}
	p.mu.Unlock()
	for k, v := range own {
		_ = p.b.nc.Publish(p.subject(k), v)
	}
}

// waitRev waits until the watch has processed revision rev.
func (p *presence) waitRev(ctx context.Context, rev uint64) error {
	for {
		p.mu.Lock()
		done, ch := p.synced && p.rev >= rev, p.changed
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nodes returns the live nodes other than this one.
func (p *presence) otherNodes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for node := range p.alive {
		if node != p.b.node {
			n++
		}
	}
	return n
}

// AddPresence implements broker.Broker. It returns once this node's view
// has the entry.
func (b *Broker) AddPresence(ctx context.Context, room, conn string, m shared.Member) error {
	key := roomKey(room, conn)
	v, err := json.Marshal(presEntry{Room: room, Conn: conn, Node: b.node, User: m.User, Name: m.Name})
	if err != nil {
		return fmt.Errorf("presence of %q: %w", room, err)
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("presence of %q: %w", room, nats.ErrConnectionClosed)
	}
	b.pres.mu.Lock()
	b.pres.own[key] = v
	delete(b.pres.undone, key)
	b.pres.mu.Unlock()
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.pres.subject(key), Data: v})
	if err != nil {
		return fmt.Errorf("presence of %q: %w", room, err)
	}
	return b.pres.waitRev(ctx, ack.Sequence)
}

// RemovePresence implements broker.Broker. It returns once this node's view
// no longer has the entry.
func (b *Broker) RemovePresence(ctx context.Context, room, conn string) error {
	key := roomKey(room, conn)
	b.pres.mu.Lock()
	delete(b.pres.own, key)
	b.pres.undone[key] = true // until the delete is acknowledged
	b.pres.mu.Unlock()
	if !b.nc.IsConnected() {
		return fmt.Errorf("presence of %q: %w (retried when NATS is back)", room, nats.ErrConnectionClosed)
	}
	ack, err := b.js.PublishMsg(ctx, b.pres.delMsg(key))
	if err != nil {
		return fmt.Errorf("presence of %q: %w (retried when NATS is back)", room, err)
	}
	b.pres.mu.Lock()
	delete(b.pres.undone, key)
	b.pres.mu.Unlock()
	return b.pres.waitRev(ctx, ack.Sequence)
}

// Presence implements broker.Broker: the members of room on every node, as
// this node's watch of the bucket has them. Without a connection to NATS
// that view is not kept up to date: Presence then fails rather than answer
// with what may be stale.
func (b *Broker) Presence(_ context.Context, room string) ([]shared.Member, error) {
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("presence of %q: %w", room, nats.ErrDisconnected)
	}
	p := b.pres
	p.mu.Lock()
	defer p.mu.Unlock()
	users := p.rooms[room]
	list := make([]shared.Member, 0, len(users))
	for _, u := range users {
		list = append(list, u.member)
	}
	slices.SortFunc(list, func(a, b shared.Member) int { return cmp.Compare(a.User, b.User) })
	return list, nil
}

// errNoAnswer is a scatter-gather that some node did not answer in time.
var errNoAnswer = errors.New("not every node answered")
