package backend

import (
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFeedStaysWithinBounds(t *testing.T) {
	f := newFeed(42)
	open := openingPrices()
	moved := false
	for i := range 5000 {
		quotes := f.step(time.UnixMilli(int64(i)))
		if len(quotes) != len(Symbols()) {
			t.Fatalf("step returned %d quotes, want %d", len(quotes), len(Symbols()))
		}
		for j, q := range quotes {
			if q.Symbol != Symbols()[j] {
				t.Fatalf("quote %d is %s, want %s", j, q.Symbol, Symbols()[j])
			}
			lo, hi := open[j]*(1-maxDrift), open[j]*(1+maxDrift)
			if q.Price < lo-0.01 || q.Price > hi+0.01 {
				t.Fatalf("step %d: %s at %.2f, outside [%.2f, %.2f]", i, q.Symbol, q.Price, lo, hi)
			}
			if want := math.Round((q.Price-open[j])/open[j]*10000) / 100; q.Change != want {
				t.Fatalf("%s change %.2f%%, want %.2f%%", q.Symbol, q.Change, want)
			}
			if q.Price != open[j] {
				moved = true
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("invalid quote %+v: %v", q, err)
			}
		}
	}
	if !moved {
		t.Error("prices never moved")
	}
}

func TestFeedIsDeterministicPerSeed(t *testing.T) {
	a, b, c := newFeed(7), newFeed(7), newFeed(8)
	now := time.UnixMilli(0)
	same, differs := true, false
	for range 20 {
		qa, qb, qc := a.step(now), b.step(now), c.step(now)
		for i := range qa {
			same = same && qa[i] == qb[i]
			differs = differs || qa[i] != qc[i]
		}
	}
	if !same || !differs {
		t.Errorf("same seed same walk: %v, other seed other walk: %v; want both", same, differs)
	}
}

func TestLanesRoundRobinPerRoom(t *testing.T) {
	d := newDanmaku(nil)
	for i := range 2 * Lanes {
		if got := d.lane("a"); got != i%Lanes {
			t.Fatalf("room a comment %d: lane %d, want %d", i, got, i%Lanes)
		}
	}
	if got := d.lane("b"); got != 0 {
		t.Errorf("first lane of room b = %d, want 0", got)
	}
}
