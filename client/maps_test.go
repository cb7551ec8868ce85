package client

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// score is a map value of these tests.
type score struct {
	Points int `json:"points"`
}

func entry(key string, rev uint64, points int) shared.MapEntry {
	v, _ := json.Marshal(score{points})
	return shared.MapEntry{Key: key, Rev: rev, Value: v}
}

func setChange(key string, rev uint64, points int) shared.MapChange {
	v, _ := json.Marshal(score{points})
	return shared.MapChange{Map: "scores", Rev: rev, Op: shared.MapOpSet, Key: key, Value: v}
}

// changeLog records a Map's OnChange calls.
type changeLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *changeLog) record(c Change[string, score]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, string(c.Op)+":"+c.Key)
}

func (l *changeLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ops...)
}

func points(m *Map[string, score]) map[string]int {
	out := map[string]int{}
	for k, e := range m.All() {
		out[k] = e.Value.Points
	}
	return out
}

// subscribeMap runs m.Subscribe against p, which answers with sub and the
// given snapshot pages (or changes), and waits for Subscribe to return.
func subscribeMap(t *testing.T, p *fakePeer, m *Map[string, score], check func(shared.MapSub), sub shared.MapSubscribed, follow ...shared.Message) {
	t.Helper()
	res := async(func() (struct{}, error) { return struct{}{}, m.Subscribe(context.Background()) })
	req := p.recv(t, "map.sub")
	var got shared.MapSub
	decodeData(t, req, &got)
	if check != nil {
		check(got)
	}
	p.reply(t, req, sub)
	for _, f := range follow {
		p.push(t, shared.Envelope{}, f)
	}
	if _, err := await(t, res); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
}

func TestMapSnapshotPagesThenChanges(t *testing.T) {
	h := start(t, Config{}, nil)
	m, err := NewMap[string, score](h.c, "scores")
	if err != nil {
		t.Fatal(err)
	}
	var log, stopped changeLog
	m.OnChange(log.record)
	stop := m.OnChange(stopped.record)
	p := h.open(t)
	subscribeMap(t, p, m, func(s shared.MapSub) {
		if s.Epoch != "" || s.Rev != 0 {
			t.Errorf("a first subscribe sent position %q/%d, want none", s.Epoch, s.Rev)
		}
	}, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 10, Snapshot: true, Keys: 3, Pages: 2},
		shared.MapSnapshot{Map: "scores", Epoch: "e1", Rev: 10, Entries: []shared.MapEntry{entry("a", 3, 1), entry("b", 10, 2)}, More: true},
		shared.MapSnapshot{Map: "scores", Epoch: "e1", Rev: 10, Entries: []shared.MapEntry{entry("c", 7, 3)}})
	if got, want := points(m), map[string]int{"a": 1, "b": 2, "c": 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after Subscribe the copy is %v, want the whole snapshot %v", got, want)
	}
	if e, r := m.Position(); e != "e1" || r != 10 || !m.Synced() {
		t.Fatalf("position %s/%d synced %v, want e1/10 synced", e, r, m.Synced())
	}
	stop() // a component dismounted: its callback hears no more
	stop() // twice is harmless
	p.push(t, shared.Envelope{}, setChange("a", 11, 5))
	p.push(t, shared.Envelope{}, setChange("b", 9, 99)) // a repeat: below the position
	p.push(t, shared.Envelope{}, shared.MapChange{Map: "scores", Rev: 12, Op: shared.MapOpDelete, Key: "b"})
	p.push(t, shared.Envelope{}, shared.MapChange{Map: "scores", Rev: 14, Op: shared.MapOpExpire, Key: "c"})
	p.push(t, shared.Envelope{}, shared.Pong{}) // a marker: the changes before it are applied
	waitUntil(t, "the changes applied", func() bool { _, r := m.Position(); return r == 14 })
	if got, want := points(m), map[string]int{"a": 5}; !reflect.DeepEqual(got, want) {
		t.Errorf("copy %v, want %v", got, want)
	}
	if got, want := log.all(), []string{"snapshot:", "set:a", "delete:b", "expire:c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OnChange saw %v, want %v", got, want)
	}
	if got, want := stopped.all(), []string{"snapshot:"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the callback stopped after the snapshot saw %v, want %v", got, want)
	}
}

func TestMapResumeByChangesAndBySnapshot(t *testing.T) {
	h := start(t, Config{}, nil)
	m, _ := NewMap[string, score](h.c, "scores")
	p := h.open(t)
	subscribeMap(t, p, m, nil, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 5, Snapshot: true, Keys: 1, Pages: 1},
		shared.MapSnapshot{Map: "scores", Epoch: "e1", Rev: 5, Entries: []shared.MapEntry{entry("a", 5, 1)}})

	// A cut: the client resubscribes from 5 and catches up by changes.
	p.drop()
	p = h.open(t)
	req := p.recv(t, "map.sub")
	var sub shared.MapSub
	decodeData(t, req, &sub)
	if sub.Epoch != "e1" || sub.Rev != 5 {
		t.Fatalf("the resubscribe asked from %s/%d, want e1/5", sub.Epoch, sub.Rev)
	}
	p.reply(t, req, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 7, Changes: 2})
	p.push(t, shared.Envelope{}, setChange("b", 6, 2))
	p.push(t, shared.Envelope{}, setChange("a", 7, 3))
	waitUntil(t, "the catch-up applied", func() bool { return m.Synced() })
	if got, want := points(m), map[string]int{"a": 3, "b": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the catch-up the copy is %v, want %v", got, want)
	}

	// A cut in the middle of a fresh snapshot: the partial one is dropped,
	// and the next resume starts from the last complete position.
	p.drop()
	p = h.open(t)
	req = p.recv(t, "map.sub")
	p.reply(t, req, shared.MapSubscribed{Map: "scores", Epoch: "e2", Rev: 3, Snapshot: true, Keys: 2, Pages: 2})
	p.push(t, shared.Envelope{}, shared.MapSnapshot{Map: "scores", Epoch: "e2", Rev: 3, Entries: []shared.MapEntry{entry("x", 1, 1)}, More: true})
	p.push(t, shared.Envelope{}, shared.Pong{})
	p.drop()
	p = h.open(t)
	req = p.recv(t, "map.sub")
	decodeData(t, req, &sub)
	if sub.Epoch != "e1" || sub.Rev != 7 {
		t.Fatalf("after a cut snapshot the resume asked from %s/%d, want the last complete e1/7", sub.Epoch, sub.Rev)
	}
	if got, want := points(m), map[string]int{"a": 3, "b": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("a partial snapshot leaked into the copy: %v, want %v", got, want)
	}
	// The changes are gone: a fresh snapshot of a new epoch replaces all.
	p.reply(t, req, shared.MapSubscribed{Map: "scores", Epoch: "e2", Rev: 3, Snapshot: true, Keys: 1, Pages: 1})
	p.push(t, shared.Envelope{}, shared.MapSnapshot{Map: "scores", Epoch: "e2", Rev: 3, Entries: []shared.MapEntry{entry("z", 3, 9)}})
	waitUntil(t, "the fresh snapshot applied", func() bool { e, _ := m.Position(); return e == "e2" })
	if got, want := points(m), map[string]int{"z": 9}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a fresh snapshot the copy is %v, want %v (keys not in it removed)", got, want)
	}
}

func TestMapServerRestartsSubscription(t *testing.T) {
	h := start(t, Config{}, nil)
	m, _ := NewMap[string, score](h.c, "scores")
	p := h.open(t)
	subscribeMap(t, p, m, nil, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 5, Snapshot: true})
	if m.Len() != 0 || !m.Synced() {
		t.Fatalf("an empty snapshot (no pages) must sync an empty copy: len %d synced %v", m.Len(), m.Synced())
	}
	// Unsolicited map.subscribed: the server restarts the copy.
	p.push(t, shared.Envelope{}, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 20, Snapshot: true, Keys: 1, Pages: 1})
	p.push(t, shared.Envelope{}, setChange("early", 21, 1)) // must not apply before the snapshot
	p.push(t, shared.Envelope{}, shared.MapSnapshot{Map: "scores", Epoch: "e1", Rev: 20, Entries: []shared.MapEntry{entry("k", 20, 4)}})
	p.push(t, shared.Envelope{}, setChange("k", 22, 6))
	waitUntil(t, "the restart applied", func() bool { _, r := m.Position(); return r == 22 })
	if got, want := points(m), map[string]int{"k": 6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("copy %v, want %v", got, want)
	}
}

func TestMapWrites(t *testing.T) {
	h := start(t, Config{}, nil)
	m, _ := NewMap[string, score](h.c, "scores")
	p := h.open(t)
	res := async(func() (uint64, error) { return m.Set(context.Background(), "a", score{3}, IfRev(0), TTL(1500)) })
	req := p.recv(t, "map.set")
	var set shared.MapSet
	decodeData(t, req, &set)
	if set.Map != "scores" || set.Key != "a" || string(set.Value) != `{"points":3}` || set.IfRev == nil || *set.IfRev != 0 || set.TTLMS != 1 {
		t.Fatalf("Set sent %+v", set)
	}
	p.reply(t, req, shared.MapWritten{Map: "scores", Key: "a", Rev: 8})
	if rev, err := await(t, res); err != nil || rev != 8 {
		t.Fatalf("Set = %d, %v; want 8", rev, err)
	}
	res = async(func() (uint64, error) { return m.Delete(context.Background(), "a", IfRev(8)) })
	req = p.recv(t, "map.delete")
	p.reply(t, req, shared.Error{Code: shared.CodeConflict, Message: "the key moved"})
	if _, err := await(t, res); !IsConflict(err) {
		t.Fatalf("Delete = %v, want a conflict", err)
	}
}

func TestMapUpdateRetriesOnConflict(t *testing.T) {
	h := start(t, Config{}, nil)
	m, _ := NewMap[string, score](h.c, "scores")
	p := h.open(t)
	subscribeMap(t, p, m, nil, shared.MapSubscribed{Map: "scores", Epoch: "e1", Rev: 5, Snapshot: true, Keys: 1, Pages: 1},
		shared.MapSnapshot{Map: "scores", Epoch: "e1", Rev: 5, Entries: []shared.MapEntry{entry("a", 5, 1)}})
	res := async(func() (uint64, error) {
		return m.Update(context.Background(), "a", func(old score, ok bool) (score, error) { return score{old.Points + 1}, nil })
	})
	req := p.recv(t, "map.set")
	var set shared.MapSet
	decodeData(t, req, &set)
	if *set.IfRev != 5 || string(set.Value) != `{"points":2}` {
		t.Fatalf("first try %+v, want points 2 if_rev 5", set)
	}
	p.push(t, shared.Envelope{}, setChange("a", 6, 10)) // another writer won
	p.reply(t, req, shared.Error{Code: shared.CodeConflict, Message: "moved"})
	req = p.recv(t, "map.set")
	decodeData(t, req, &set)
	if *set.IfRev != 6 || string(set.Value) != `{"points":11}` {
		t.Fatalf("retry %+v, want points 11 if_rev 6", set)
	}
	p.reply(t, req, shared.MapWritten{Map: "scores", Key: "a", Rev: 7})
	if rev, err := await(t, res); err != nil || rev != 7 {
		t.Fatalf("Update = %d, %v", rev, err)
	}
}

func TestLastValuesAreStateNotReplay(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	h := start(t, Config{}, func(c *Client) {
		OnMeta(c, func(q testmsg.TickerQuote, meta Meta) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, q.Symbol+map[bool]string{true: "(last)", false: ""}[meta.Last])
		})
	})
	p := h.open(t)
	res := async(func() (shared.Joined, error) { return h.c.Join(context.Background(), "ticker", 0) })
	req := p.recv(t, "join")
	p.reply(t, req, shared.Joined{Room: "ticker", Epoch: "e", Seq: 40, Last: 2})
	var pubs []json.RawMessage
	for _, q := range []struct {
		sym string
		seq uint64
	}{{"BTC", 12}, {"ETH", 40}} {
		b, _ := shared.Encode(shared.Envelope{Room: "ticker", Seq: q.seq}, testmsg.TickerQuote{Symbol: q.sym, Price: 1})
		pubs = append(pubs, b)
	}
	p.push(t, shared.Envelope{Room: "ticker"}, shared.Last{Room: "ticker", Publications: pubs})
	p.push(t, shared.Envelope{Room: "ticker", Seq: 41}, testmsg.TickerQuote{Symbol: "SOL", Price: 1})
	if _, err := await(t, res); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "three quotes handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	mu.Lock()
	if want := []string{"BTC(last)", "ETH(last)", "SOL"}; !reflect.DeepEqual(got, want) {
		t.Errorf("handlers saw %v, want %v", got, want)
	}
	mu.Unlock()
	// The resume position is joined's, not moved by the last values.
	p.drop()
	p = h.open(t)
	req = p.recv(t, "join")
	var j shared.Join
	decodeData(t, req, &j)
	if j.Since == nil || *j.Since != 41 {
		t.Errorf("the rejoin resumes from %v, want 41 (the last live message)", j.Since)
	}
}

// waitUntil polls cond (the client applies frames on its own goroutine)
// until it holds or waitLimit passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}
