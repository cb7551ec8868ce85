package ui

import (
	"slices"
	"testing"

	"github.com/tetherkit/tether/client"
)

func TestObservable(t *testing.T) {
	var o observable[string]
	var a, b []string
	stopA := o.watch(func(v string) { a = append(a, v) })
	stopB := o.watch(func(v string) { b = append(b, v) })
	o.publish("one")
	stopA()
	o.publish("two")
	stopB()
	o.publish("three")
	if !slices.Equal(a, []string{"one"}) || !slices.Equal(b, []string{"one", "two"}) {
		t.Errorf("watcher a got %q, b got %q; want [one] and [one two]: a watcher sees what is published until it stops", a, b)
	}

	// A watcher may stop itself while being called.
	var stopSelf func()
	calls := 0
	stopSelf = o.watch(func(string) { calls++; stopSelf() })
	o.publish("x")
	o.publish("y")
	if calls != 1 {
		t.Errorf("a watcher that stopped itself was called %d times, want 1", calls)
	}
}

func TestWatchAll(t *testing.T) {
	var c1, c2 changes
	n := 0
	stop := watchAll(func() { n++ }, &c1, &c2)
	c1.changed()
	c2.changed()
	stop()
	c1.changed()
	if n != 2 {
		t.Errorf("watchAll saw %d changes, want 2 (one per store, none after stop)", n)
	}
}

func TestOnlyGuardsHandlers(t *testing.T) {
	current := true
	mine := func() bool { return current }
	var got []int
	h := only(mine, func(v int) { got = append(got, v) })
	var meta []uint64
	hm := onlyMeta(mine, func(v int, m client.Meta) { meta = append(meta, m.Seq) })
	h(1)
	hm(1, client.Meta{Seq: 7})
	current = false // the session logged out: the old client's events are ignored
	h(2)
	hm(2, client.Meta{Seq: 8})
	if !slices.Equal(got, []int{1}) || !slices.Equal(meta, []uint64{7}) {
		t.Errorf("guarded handlers ran with %v and %v, want [1] and [7]", got, meta)
	}
}
