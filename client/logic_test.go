package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tetherkit/tether/shared"
)

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		attempt  int
		min, max time.Duration
		wantLo   time.Duration
		wantHi   time.Duration
	}{
		{"first retry after a drop is fast", 1, 500 * ms, 30 * time.Second, 250 * ms, 500 * ms},
		{"second failure doubles the window", 2, 500 * ms, 30 * time.Second, 500 * ms, 1000 * ms},
		{"third failure", 3, 500 * ms, 30 * time.Second, 500 * ms, 2000 * ms},
		{"sixth failure", 6, 500 * ms, 30 * time.Second, 500 * ms, 16000 * ms},
		{"capped by max", 8, 500 * ms, 30 * time.Second, 500 * ms, 30 * time.Second},
		{"huge attempt does not overflow", 1000, 500 * ms, 30 * time.Second, 500 * ms, 30 * time.Second},
		{"attempt 0 counts as 1", 0, 100 * ms, time.Second, 50 * ms, 100 * ms},
		{"max below min means min", 3, time.Second, 10 * ms, time.Second, time.Second},
		{"min equals max", 4, time.Second, time.Second, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(1, 2))
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for range 2000 {
				d := backoff(tt.attempt, tt.min, tt.max, rnd)
				if d < tt.wantLo || d > tt.wantHi {
					t.Fatalf("backoff(%d, %s, %s) = %s, want within [%s, %s]", tt.attempt, tt.min, tt.max, d, tt.wantLo, tt.wantHi)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			// Jitter: the samples spread over (nearly) the whole window.
			span := tt.wantHi - tt.wantLo
			if lo > tt.wantLo+span/10 || hi < tt.wantHi-span/10 {
				t.Errorf("backoff(%d, %s, %s) samples span [%s, %s], want close to [%s, %s]", tt.attempt, tt.min, tt.max, lo, hi, tt.wantLo, tt.wantHi)
			}
		})
	}
}

func TestBackoffClientsDiffer(t *testing.T) {
	// Two clients must not retry in lockstep after losing the same server.
	a, b := newClient(t, Config{Transport: newFakeTransport()}), newClient(t, Config{Transport: newFakeTransport()})
	same := 0
	for attempt := 1; attempt <= 20; attempt++ {
		if backoff(attempt, a.opts.MinBackoff, a.opts.MaxBackoff, a.rnd) == backoff(attempt, b.opts.MinBackoff, b.opts.MaxBackoff, b.rnd) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 20 backoff delays of two clients were equal; their randomness is not independent", same)
	}
}

func TestRoomStateDedupe(t *testing.T) {
	type step struct {
		joined *shared.Joined // apply a joined reply
		seq    uint64         // else: a room message with this seq
		want   bool           // accepted?
	}
	j := func(epoch string, seq uint64, replayed int) *shared.Joined {
		return &shared.Joined{Room: "r", Epoch: epoch, Seq: seq, Replayed: replayed}
	}
	tests := []struct {
		name        string
		steps       []step
		wantEpoch   string
		wantLastSeq uint64
	}{
		{"fresh join with history replays the tail", []step{
			{joined: j("e1", 10, 3)}, {seq: 8, want: true}, {seq: 9, want: true}, {seq: 10, want: true}, {seq: 11, want: true},
		}, "e1", 11},
		{"duplicates and old seqs are dropped", []step{
			{joined: j("e1", 0, 0)}, {seq: 1, want: true}, {seq: 2, want: true}, {seq: 2, want: false}, {seq: 1, want: false}, {seq: 3, want: true},
		}, "e1", 3},
		{"join without history starts at the head", []step{
			{joined: j("e1", 50, 0)}, {seq: 50, want: false}, {seq: 51, want: true},
		}, "e1", 51},
		{"resume in the same epoch drops the overlap", []step{
			{joined: j("e1", 5, 5)}, {seq: 1, want: true}, {seq: 2, want: true}, {seq: 3, want: true},
			{joined: j("e1", 5, 2)}, {seq: 3, want: false}, {seq: 4, want: true}, {seq: 5, want: true},
		}, "e1", 5},
		{"new epoch starts over", []step{
			{joined: j("e1", 9, 0)}, {seq: 10, want: true},
			{joined: j("e2", 2, 2)}, {seq: 1, want: true}, {seq: 2, want: true}, {seq: 3, want: true},
		}, "e2", 3},
		{"head behind last seq in the same epoch starts over", []step{
			{joined: j("e1", 0, 0)}, {seq: 1, want: true}, {seq: 2, want: true}, {seq: 3, want: true},
			{joined: j("e1", 1, 1)}, {seq: 1, want: true}, {seq: 2, want: true},
		}, "e1", 2},
		{"replayed larger than seq is harmless", []step{
			{joined: j("e1", 2, 5)}, {seq: 1, want: true},
		}, "e1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r roomState
			for i, s := range tt.steps {
				if s.joined != nil {
					r.joined(*s.joined)
					continue
				}
				if got := r.accept(s.seq); got != s.want {
					t.Fatalf("step %d: accept(%d) = %v, want %v (state %+v)", i, s.seq, got, s.want, r)
				}
			}
			if r.epoch != tt.wantEpoch || r.lastSeq != tt.wantLastSeq {
				t.Errorf("final state epoch %q last seq %d, want %q %d", r.epoch, r.lastSeq, tt.wantEpoch, tt.wantLastSeq)
			}
		})
	}
}

func TestRoomStateJoinMsg(t *testing.T) {
	fresh := roomState{history: 20}
	if j := fresh.joinMsg("lobby"); j.Since != nil || j.Epoch != "" || j.History != 20 || j.Room != "lobby" {
		t.Errorf("fresh joinMsg = %+v, want room lobby, history 20, no since/epoch", j)
	}
	joined := roomState{history: 20, epoch: "e1", lastSeq: 0}
	if j := joined.joinMsg("lobby"); j.Since == nil || *j.Since != 0 || j.Epoch != "e1" {
		t.Errorf("joinMsg after an empty room = %+v, want since 0 epoch e1", j)
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Connecting, "connecting"},
		{Open, "open"},
		{Reconnecting, "reconnecting"},
		{Closed, "closed"},
		{State(42), "State(42)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Config{}.withDefaults()
	if o.MinBackoff != 500*time.Millisecond || o.MaxBackoff != 30*time.Second || o.RequestTimeout != 10*time.Second {
		t.Errorf("defaults = min %s max %s timeout %s, want 500ms 30s 10s", o.MinBackoff, o.MaxBackoff, o.RequestTimeout)
	}
	if o.Transport == nil || o.Registry == nil || o.Logger == nil {
		t.Error("defaults leave Transport, Registry or Logger nil")
	}
	if got := o.pingInterval(shared.Welcome{HeartbeatMS: 5000}); got != 5*time.Second {
		t.Errorf("ping interval from welcome = %s, want 5s", got)
	}
	if got := o.pingInterval(shared.Welcome{}); got != 25*time.Second {
		t.Errorf("ping interval without welcome value = %s, want 25s", got)
	}
	o.PingInterval = time.Second
	if got := o.pingInterval(shared.Welcome{HeartbeatMS: 5000}); got != time.Second {
		t.Errorf("explicit ping interval = %s, want 1s", got)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://h:1/ws?token=secret", "ws://h:1/ws"},
		{"wss://u:p@h/ws?x=1#f", "wss://h/ws"},
		{"ws://h/ws", "ws://h/ws"},
		{"ws://h/ws#frag", "ws://h/ws"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRetryAttempt(t *testing.T) {
	tests := []struct {
		name    string
		attempt int
		err     error
		want    int
	}{
		{"lost connection", 1, &CloseError{Code: 1006}, 1},
		{"server going away spreads the first retry", 1, &CloseError{Code: shared.CloseGoingAway, Reason: "shutdown"}, goingAwayAttempt},
		{"going away after many failures keeps the count", 7, &CloseError{Code: shared.CloseGoingAway}, 7},
		{"wrapped close", 2, fmt.Errorf("read: %w", &CloseError{Code: shared.CloseGoingAway}), goingAwayAttempt},
		{"dial error", 2, errors.New("connection refused"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAttempt(tt.attempt, tt.err); got != tt.want {
				t.Errorf("retryAttempt(%d, %v) = %d, want %d", tt.attempt, tt.err, got, tt.want)
			}
		})
	}
}
