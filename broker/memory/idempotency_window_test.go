package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

func TestIdempotencyWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		user, key string
		at        time.Duration // after t0
		wantFirst bool
	}
	tests := []struct {
		name  string
		size  int
		ttl   time.Duration
		steps []step
	}{
		{"repeat within ttl", 10, time.Minute, []step{
			{"u", "a", 0, true}, {"u", "a", 59 * time.Second, false},
		}},
		{"repeat after ttl runs again", 10, time.Minute, []step{
			{"u", "a", 0, true}, {"u", "a", time.Minute, true}, {"u", "a", time.Minute + time.Second, false},
		}},
		{"keys are per user", 10, time.Minute, []step{
			{"u", "a", 0, true}, {"v", "a", 0, true}, {"u", "a", 0, false}, {"v", "a", 0, false},
		}},
		{"oldest beyond size is forgotten", 2, time.Minute, []step{
			{"u", "a", 0, true}, {"u", "b", 0, true}, {"u", "c", 0, true},
			{"u", "b", 0, false}, {"u", "c", 0, false}, {"u", "a", 0, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newIdempotency(tt.size, time.Now)
			for i, s := range tt.steps {
				run, first := d.start(s.user, s.key, t0.Add(s.at), tt.ttl)
				if first != s.wantFirst {
					t.Fatalf("step %d (%s %s at +%s): first = %v, want %v", i, s.user, s.key, s.at, first, s.wantFirst)
				}
				if first {
					_ = run.Finish(context.Background(), broker.Outcome{})
				}
			}
		})
	}
}

func TestIdempotencySweepForgetsIdleUsers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := newIdempotency(10, time.Now)
	for _, u := range []string{"a", "b", "c"} {
		r, _ := d.start(u, "k", t0, time.Minute)
		_ = r.Finish(context.Background(), broker.Outcome{})
	}
	r, _ := d.start("d", "k", t0.Add(2*time.Minute), time.Minute)
	_ = r.Finish(context.Background(), broker.Outcome{})
	if len(d.users) != 1 {
		t.Fatalf("%d user windows kept after their keys expired, want 1 (only the active user)", len(d.users))
	}
}

// TestIdempotencyClaimWaits: a repeat of a key whose first run has not
// finished waits for its outcome, and gives up with ctx's error (the server
// bounds the wait by KeyWait) without a run of its own.
func TestIdempotencyClaimWaits(t *testing.T) {
	d := newIdempotency(10, time.Now)
	ctx := context.Background()
	run, _, err := d.Claim(ctx, "u", "k", time.Minute)
	if err != nil || run == nil {
		t.Fatalf("first claim: run %v, err %v", run, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	r, _, err := d.Claim(short, "u", "k", time.Minute)
	cancel()
	if r != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("repeat while the first runs, ctx ended: run %v, err %v; want no run and the deadline", r, err)
	}
	got := make(chan broker.Outcome, 1)
	go func() {
		_, out, _ := d.Claim(ctx, "u", "k", time.Minute)
		got <- out
	}()
	want := broker.Outcome{Type: "dice.result", Data: []byte(`{"value":6}`)}
	_ = run.Finish(ctx, want)
	if out := <-got; out.Type != want.Type || string(out.Data) != string(want.Data) {
		t.Fatalf("waiting repeat got %+v, want %+v", out, want)
	}
}

// TestKeysOff: with IdempotencyKeys negative every claim is a new run.
func TestKeysOff(t *testing.T) {
	b := newTestBroker(t, Config{IdempotencyKeys: -1}, nil)
	for i := range 2 {
		run, _, err := b.Claim(context.Background(), "u", "k", time.Minute)
		if err != nil || run == nil {
			t.Fatalf("claim %d with keys off: run %v, err %v; want a new run", i, run, err)
		}
	}
}

// TestIdempotencyRelease: a released key is not an answer: a repeat waiting
// for the run gets the run's unavailable answer, and the key sent again
// afterwards runs again.
func TestIdempotencyRelease(t *testing.T) {
	d := newIdempotency(10, time.Now)
	ctx := context.Background()
	run, _, err := d.Claim(ctx, "u", "k", time.Minute)
	if err != nil || run == nil {
		t.Fatalf("first claim: run %v, err %v", run, err)
	}
	pending, first := d.start("u", "k", time.Now(), time.Minute) // a repeat, before the release
	if first {
		t.Fatal("a repeat of a claimed key is a first run")
	}
	unavailable := broker.Outcome{Err: &shared.Error{Code: shared.CodeUnavailable, Message: "not applied"}}
	if err := run.Release(ctx, unavailable); err != nil {
		t.Fatal(err)
	}
	if out, _ := pending.wait(ctx); out.Err == nil || out.Err.Code != shared.CodeUnavailable {
		t.Fatalf("a repeat waiting for a released run got %+v, want unavailable", out)
	}
	again, _, err := d.Claim(ctx, "u", "k", time.Minute)
	if err != nil || again == nil {
		t.Fatalf("claim after release: run %v, err %v; want a new run", again, err)
	}
}
