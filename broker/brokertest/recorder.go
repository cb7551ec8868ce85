package brokertest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
)

// Recorder is a broker.Handler that records every event it is given, for
// the suite and for a broker's own tests. Its methods are safe for
// concurrent use and never block.
type Recorder struct {
	name string

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every event
	pubs      map[string][]broker.Publication
	ephemeral map[string][]string
	presence  map[string][]broker.PresenceEvent
	controls  []broker.Control
	resets    map[string]int
	inFlight  map[string]int // HandlePublication calls running, per room
	overlaps  int            // HandlePublication calls that overlapped another of their room
}

// NewRecorder returns an empty Recorder; name is its answer to HandleQuery.
func NewRecorder(name string) *Recorder {
	return &Recorder{
		name:      name,
		changed:   make(chan struct{}),
		pubs:      make(map[string][]broker.Publication),
		ephemeral: make(map[string][]string),
		presence:  make(map[string][]broker.PresenceEvent),
		resets:    make(map[string]int),
		inFlight:  make(map[string]int),
	}
}

// ControlReach is what a Recorder's HandleControl answers: the connections
// it says it reached.
const ControlReach = 2

// record runs f under the lock and wakes the waiters.
func (r *Recorder) record(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
}

// HandlePublication implements broker.Handler.
func (r *Recorder) HandlePublication(room string, p broker.Publication) int {
	r.mu.Lock()
	r.inFlight[room]++
	if r.inFlight[room] > 1 {
		r.overlaps++
	}
	r.mu.Unlock()
	// Yielding inside the call lets an overlapping call of the same room
	// show; it does not order anything.
	runtime.Gosched()
	r.record(func() {
		r.inFlight[room]--
		r.pubs[room] = append(r.pubs[room], p)
	})
	return 1
}

// HandleEphemeral implements broker.Handler.
func (r *Recorder) HandleEphemeral(room string, payload []byte) {
	r.record(func() { r.ephemeral[room] = append(r.ephemeral[room], string(payload)) })
}

// HandlePresence implements broker.Handler.
func (r *Recorder) HandlePresence(room string, e broker.PresenceEvent) {
	r.record(func() { r.presence[room] = append(r.presence[room], e) })
}

// HandleControl implements broker.Handler: it answers ControlReach.
func (r *Recorder) HandleControl(c broker.Control) int {
	r.record(func() { r.controls = append(r.controls, c) })
	return ControlReach
}

// HandleQuery implements broker.Handler: it answers the recorder's name.
func (r *Recorder) HandleQuery(string) ([]byte, error) { return []byte(r.name), nil }

// HandleReset implements broker.Handler.
func (r *Recorder) HandleReset(room string) {
	r.record(func() { r.resets[room]++ })
}

// Publications returns the publications delivered for room, in order.
func (r *Recorder) Publications(room string) []broker.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]broker.Publication(nil), r.pubs[room]...)
}

// Ephemeral returns the ephemeral payloads delivered for room, in order.
func (r *Recorder) Ephemeral(room string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ephemeral[room]...)
}

// Presence returns the presence events delivered for room, in order.
func (r *Recorder) Presence(room string) []broker.PresenceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]broker.PresenceEvent(nil), r.presence[room]...)
}

// Controls returns the control messages delivered, in order.
func (r *Recorder) Controls() []broker.Control {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]broker.Control(nil), r.controls...)
}

// Resets returns how many times room was reset.
func (r *Recorder) Resets(room string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resets[room]
}

// Overlaps returns how many HandlePublication calls ran while another one
// of the same room was running.
func (r *Recorder) Overlaps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlaps
}

// WaitFor waits until cond, evaluated after every event, holds, and fails
// the test with what when it does not within Wait.
func (r *Recorder) WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, Wait)
		}
	}
}

// Poll calls check until it returns nil, after every event of r or every
// 20ms, and fails the test with what and check's last error when it does not
// within Wait. It is for conditions a broker reaches on its own (another
// node's view of presence, the cluster's membership), not through an event.
func (r *Recorder) Poll(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %v: %v", what, Wait, err)
		}
	}
}
