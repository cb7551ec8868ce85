//go:build !js

package ui

import (
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
)

// TestStatusPillClock: the pill's clock, which redraws the reconnect
// countdown four times a second, runs only while the session waits to
// reconnect, follows every change of state, and stops with the pill; every
// change of state redraws the pill.
func TestStatusPillClock(t *testing.T) {
	s := NewSession()
	p := &StatusPill{s: s}
	redraws := make(chan struct{}, 64)
	stop := p.follow(func() {
		select {
		case redraws <- struct{}{}:
		default:
		}
	}, func(bool) {})
	if p.clock.running() {
		t.Fatal("the clock runs for a session that is not connected")
	}
	for i, step := range []struct {
		state client.State
		want  bool
	}{
		{client.Connecting, false},
		{client.Open, false},
		{client.Reconnecting, true},
		{client.Reconnecting, true}, // a new retry time: the same clock
		{client.Open, false},
		{client.Reconnecting, true},
		{client.Closed, false},
		{client.Reconnecting, true},
	} {
		for len(redraws) > 0 {
			<-redraws
		}
		s.mu.Lock()
		s.state = client.StateInfo{State: step.state}
		s.mu.Unlock()
		s.status.changed()
		if got := p.clock.running(); got != step.want {
			t.Fatalf("step %d (%v): clock running %v, want %v", i, step.state, got, step.want)
		}
		select {
		case <-redraws:
		default:
			t.Fatalf("step %d (%v): the change did not redraw the pill", i, step.state)
		}
	}
	// Reconnecting: the clock ticks.
	select {
	case <-redraws:
	case <-time.After(5 * time.Second):
		t.Fatal("no tick of the countdown in 5 s while reconnecting")
	}
	stop()
	if p.clock.running() {
		t.Fatal("the clock still runs after the pill stopped following")
	}
}
