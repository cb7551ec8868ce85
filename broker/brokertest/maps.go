package brokertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// The keyed-state concern (broker.Maps): snapshot then changes,
// compare-and-set with one winner per revision across nodes, per-key TTL;
// and last values (broker.LastValues).

// Feed records what a broker feeds a node of a map. It implements
// broker.MapFeed.
type Feed struct {
	mu      sync.Mutex
	changed chan struct{}
	state   map[string]string // key → value
	revs    map[string]uint64 // key → revision
	epoch   string
	rev     uint64
	snaps   int
	changes []broker.MapChange
	err     error // a broken promise: a repeat or a revision that went back
}

// NewFeed returns an empty Feed.
func NewFeed() *Feed {
	return &Feed{changed: make(chan struct{}), state: map[string]string{}, revs: map[string]uint64{}}
}

// MapSnapshot implements broker.MapFeed.
func (f *Feed) MapSnapshot(s broker.MapState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.revs = map[string]string{}, map[string]uint64{}
	for _, e := range s.Entries {
		if e.Rev > s.Rev {
			f.err = fmt.Errorf("snapshot at %d has key %q at revision %d", s.Rev, e.Key, e.Rev)
		}
		f.state[e.Key], f.revs[e.Key] = string(e.Value), e.Rev
	}
	f.epoch, f.rev = s.Epoch, s.Rev
	f.snaps++
	f.wake()
}

// MapChange implements broker.MapFeed.
func (f *Feed) MapChange(c broker.MapChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snaps == 0 {
		f.err = fmt.Errorf("change %d before any snapshot", c.Rev)
	}
	if c.Rev <= f.rev {
		f.err = fmt.Errorf("change %d after revision %d: a repeat or out of order", c.Rev, f.rev)
	}
	f.rev = c.Rev
	switch c.Op {
	case shared.MapOpSet:
		f.state[c.Key], f.revs[c.Key] = string(c.Value), c.Rev
	case shared.MapOpDelete, shared.MapOpExpire:
		delete(f.state, c.Key)
		delete(f.revs, c.Key)
	default:
		f.err = fmt.Errorf("change %d has op %q", c.Rev, c.Op)
	}
	f.changes = append(f.changes, c)
	f.wake()
}

func (f *Feed) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// State returns the fed map as key=value, its revision and epoch.
func (f *Feed) State() (map[string]string, uint64, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.state))
	for k, v := range f.state {
		out[k] = v
	}
	return out, f.rev, f.epoch
}

// Changes returns the changes fed so far.
func (f *Feed) Changes() []broker.MapChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]broker.MapChange(nil), f.changes...)
}

// Err returns the first broken promise seen.
func (f *Feed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// WaitRev waits until the feed is at revision rev or above.
func (f *Feed) WaitRev(t testing.TB, rev uint64) {
	t.Helper()
	f.WaitFor(t, fmt.Sprintf("revision %d", rev), func(_ map[string]string, r uint64) bool { return r >= rev })
}

// WaitFor waits until cond holds of the fed map.
func (f *Feed) WaitFor(t testing.TB, what string, cond func(state map[string]string, rev uint64) bool) {
	t.Helper()
	deadline := time.After(Wait)
	for {
		f.mu.Lock()
		ok := cond(f.state, f.rev)
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			st, rev, _ := f.State()
			t.Fatalf("feed: no %s within %s (at revision %d: %v)", what, Wait, rev, st)
		}
	}
}

// mapNodes makes the nodes of a map test: three where the broker has them.
func (s Suite) mapNodes(t *testing.T) []broker.Broker {
	t.Helper()
	nodes, _ := s.start(t, 3, 10)
	return nodes
}

// openMap opens map name on node i with a fresh feed, closed at the test's
// end.
func openMap(t *testing.T, nodes []broker.Broker, i int, name string) (broker.MapStore, *Feed) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	f := NewFeed()
	st, err := nodes[i].OpenMap(ctx, name, f)
	if err != nil {
		t.Fatalf("node %d: OpenMap(%q): %v", i, name, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f.WaitFor(t, "snapshot", func(map[string]string, uint64) bool { return f.snaps > 0 })
	return st, f
}

func mapWrite(t *testing.T, st broker.MapStore, w broker.MapWrite) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	rev, err := st.Write(ctx, w)
	if err != nil {
		t.Fatalf("write %q: %v", w.Key, err)
	}
	return rev
}

// mapSnapshotThenChanges: a node that opens a map later gets a snapshot at
// the map's revision, then every change after it, in order, like the
// first.
func (s Suite) mapSnapshotThenChanges(t *testing.T) {
	nodes := s.mapNodes(t)
	a, fa := openMap(t, nodes, 0, "snap")
	r1 := mapWrite(t, a, broker.MapWrite{Key: "k1", Value: []byte(`1`)})
	r2 := mapWrite(t, a, broker.MapWrite{Key: "k2", Value: []byte(`"two"`)})
	if r2 <= r1 {
		t.Fatalf("revisions %d then %d: want increasing", r1, r2)
	}
	fa.WaitRev(t, r2)
	_, fb := openMap(t, nodes, len(nodes)-1, "snap")
	st, rev, epoch := fb.State()
	if rev != r2 || len(st) != 2 || st["k1"] != "1" || st["k2"] != `"two"` || epoch == "" {
		t.Fatalf("a later node's snapshot: %v at %d (epoch %q), want k1=1 k2=\"two\" at %d", st, rev, epoch, r2)
	}
	r3 := mapWrite(t, a, broker.MapWrite{Key: "k1", Value: []byte(`3`)})
	r4 := mapWrite(t, a, broker.MapWrite{Key: "k2", Delete: true})
	for _, f := range []*Feed{fa, fb} {
		f.WaitRev(t, r4)
		st, _, e := f.State()
		if len(st) != 1 || st["k1"] != "3" || e != epoch {
			t.Errorf("after a set and a delete: %v (epoch %q), want k1=3 (epoch %q)", st, e, epoch)
		}
		if err := f.Err(); err != nil {
			t.Error(err)
		}
	}
	if got := fb.Changes(); len(got) != 2 || got[0].Rev != r3 || got[1].Rev != r4 || got[1].Op != shared.MapOpDelete {
		t.Errorf("the later node's changes %+v: want the set at %d and the delete at %d", got, r3, r4)
	}
}

// mapConditionalWrites: a write with IfRev is made only at that revision
// of the key (0: the key does not exist), else ErrConflict.
func (s Suite) mapConditionalWrites(t *testing.T) {
	nodes := s.mapNodes(t)
	a, fa := openMap(t, nodes, 0, "cas")
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	ifRev := func(r uint64) *uint64 { return &r }
	r1 := mapWrite(t, a, broker.MapWrite{Key: "k", Value: []byte(`1`), IfRev: ifRev(0)})
	for _, w := range []broker.MapWrite{
		{Key: "k", Value: []byte(`2`), IfRev: ifRev(0)},
		{Key: "k", Value: []byte(`2`), IfRev: ifRev(r1 + 1000)},
		{Key: "k", Delete: true, IfRev: ifRev(r1 + 1000)},
		{Key: "absent", Value: []byte(`2`), IfRev: ifRev(r1)},
	} {
		if _, err := a.Write(ctx, w); !errors.Is(err, broker.ErrConflict) {
			t.Errorf("write %+v (if_rev %d): %v, want ErrConflict", w, *w.IfRev, err)
		}
	}
	r2 := mapWrite(t, a, broker.MapWrite{Key: "k", Value: []byte(`2`), IfRev: ifRev(r1)})
	r3 := mapWrite(t, a, broker.MapWrite{Key: "k", Delete: true, IfRev: ifRev(r2)})
	r4 := mapWrite(t, a, broker.MapWrite{Key: "k", Value: []byte(`4`), IfRev: ifRev(0)}) // deleted: does not exist
	fa.WaitRev(t, r4)
	if st, _, _ := fa.State(); st["k"] != "4" || r3 <= r2 {
		t.Errorf("after create, update, delete, create: %v (revisions %d %d %d %d)", st, r1, r2, r3, r4)
	}
	if err := fa.Err(); err != nil {
		t.Error(err)
	}
}

// mapRace has three writers, one per node where there are three, race on
// the same key's revision, 20 rounds: exactly one wins each round, the
// others get ErrConflict.
func (s Suite) mapRace(t *testing.T) {
	const rounds = 20
	nodes := s.mapNodes(t)
	writers := max(len(nodes), 3)
	stores := make([]broker.MapStore, writers)
	var f0 *Feed
	for i := range writers {
		st, f := openMap(t, nodes, i%len(nodes), "race")
		stores[i] = st
		if i == 0 {
			f0 = f
		}
	}
	rev := mapWrite(t, stores[0], broker.MapWrite{Key: "score", Value: []byte(`0`)})
	for round := range rounds {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		var wg sync.WaitGroup
		wins := make([]uint64, writers)
		errs := make([]error, writers)
		for i, st := range stores {
			wg.Go(func() {
				cond := rev
				wins[i], errs[i] = st.Write(ctx, broker.MapWrite{Key: "score", Value: fmt.Appendf(nil, "%d", i), IfRev: &cond})
			})
		}
		wg.Wait()
		cancel()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				rev = wins[i]
			case !errors.Is(err, broker.ErrConflict):
				t.Fatalf("round %d writer %d: %v, want a win or ErrConflict", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers won on one revision, want exactly 1", round, won)
		}
	}
	f0.WaitRev(t, rev)
	if err := f0.Err(); err != nil {
		t.Error(err)
	}
}

// mapKeyTTL: a key written with a TTL is removed by the broker, fed as an
// expire change; a key without one stays.
func (s Suite) mapKeyTTL(t *testing.T) {
	nodes := s.mapNodes(t)
	a, fa := openMap(t, nodes, 0, "ttl")
	mapWrite(t, a, broker.MapWrite{Key: "stays", Value: []byte(`1`)})
	r := mapWrite(t, a, broker.MapWrite{Key: "blip", Value: []byte(`2`), TTL: time.Second})
	fa.WaitRev(t, r)
	start := time.Now()
	if s.Elapse != nil {
		s.Elapse(t, nodes, time.Second)
	}
	fa.WaitFor(t, "expiry of blip", func(st map[string]string, _ uint64) bool { _, ok := st["blip"]; return !ok })
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("blip expired after %s, want about its TTL of 1s", d)
	}
	ch := fa.Changes()
	if last := ch[len(ch)-1]; last.Op != shared.MapOpExpire || last.Key != "blip" || last.Rev <= r {
		t.Errorf("the expiry was fed as %+v, want an expire of blip", last)
	}
	if st, _, _ := fa.State(); st["stays"] != "1" {
		t.Errorf("the key without TTL went: %v", st)
	}
	_, fb := openMap(t, nodes, len(nodes)-1, "ttl")
	if st, _, _ := fb.State(); len(st) != 1 {
		t.Errorf("a snapshot after the expiry holds %v, want only stays", st)
	}
}

// lastValues: a slot keeps its newest publication (a higher seq in the same
// epoch), whichever node set it, and every node reads a room's slots oldest
// first.
func (s Suite) lastValues(t *testing.T) {
	nodes, _ := s.start(t, 3, 10)
	ctx := waitCtx(t)
	t0 := time.Unix(1_700_000_000, 0).UTC()
	pub := func(seq uint64, data string) broker.Publication {
		return broker.Publication{Epoch: "e1", Seq: seq, Type: "quote", Payload: []byte(data), Time: t0.Add(time.Duration(seq) * time.Second)}
	}
	for i, c := range []struct {
		slot string
		p    broker.Publication
	}{
		{"BTC", pub(1, `{"p":1}`)},
		{"ETH", pub(2, `{"p":2}`)},
		{"BTC", pub(3, `{"p":3}`)},
		{"BTC", pub(2, `{"p":"stale"}`)}, // older than what the slot holds: ignored
	} {
		if err := nodes[i%len(nodes)].SetLast(ctx, "ticker", c.slot, c.p); err != nil {
			t.Fatalf("SetLast %s seq %d: %v", c.slot, c.p.Seq, err)
		}
	}
	for i, b := range nodes {
		got, err := b.Last(ctx, "ticker")
		if err != nil {
			t.Fatalf("node %d: Last: %v", i, err)
		}
		var seqs []string
		for _, p := range got {
			seqs = append(seqs, fmt.Sprintf("%d:%s", p.Seq, p.Payload))
		}
		if want := []string{`2:{"p":2}`, `3:{"p":3}`}; fmt.Sprint(seqs) != fmt.Sprint(want) {
			t.Errorf("node %d: Last = %v, want %v (ETH's, then BTC's newest, oldest first)", i, seqs, want)
		}
	}
	if got, err := nodes[0].Last(ctx, "elsewhere"); err != nil || len(got) != 0 {
		t.Errorf("Last of a room without last values = %v, %v; want none", got, err)
	}
}
