package backend

import (
	"errors"
	"testing"

	"github.com/tetherkit/tether/shared"
)

// TestPollState: one vote per user, a changed vote moves, the same vote
// again changes nothing, a reset starts a new round without votes.
func TestPollState(t *testing.T) {
	p := newPoll("Best?", []string{"Go", "Rust"})
	type step struct {
		do          string // "vote" or "reset"
		user, opt   string
		wantChanged bool
		want        [2]int
		wantRev     uint64
	}
	for i, s := range []step{
		{"vote", "ann", "Go", true, [2]int{1, 0}, 1},
		{"vote", "bob", "Go", true, [2]int{2, 0}, 2},
		{"vote", "ann", "Go", false, [2]int{2, 0}, 2},
		{"vote", "ann", "Rust", true, [2]int{1, 1}, 3},
		{"reset", "", "", true, [2]int{0, 0}, 4},
		{"vote", "bob", "Rust", true, [2]int{0, 1}, 5},
	} {
		var tally [2]int
		var rev uint64
		switch s.do {
		case "vote":
			b, changed, err := p.vote(s.user, s.opt)
			if err != nil || changed != s.wantChanged || b.Mine != s.opt {
				t.Fatalf("step %d: vote(%s, %s) = %+v, %v, %v", i, s.user, s.opt, b, changed, err)
			}
			tally, rev = [2]int{b.Tally.Votes("Go"), b.Tally.Votes("Rust")}, b.Tally.Rev
		case "reset":
			tl := p.reset()
			if tl.Round != 1 {
				t.Fatalf("step %d: reset's round %d, want 1", i, tl.Round)
			}
			tally, rev = [2]int{tl.Votes("Go"), tl.Votes("Rust")}, tl.Rev
		}
		if tally != s.want || rev != s.wantRev {
			t.Fatalf("step %d (%s %s %s): tally %v rev %d, want %v rev %d", i, s.do, s.user, s.opt, tally, rev, s.want, s.wantRev)
		}
	}
	if b := p.look("ann"); b.Mine != "" {
		t.Fatalf("ann's vote after the reset: %q, want none", b.Mine)
	}
	if b := p.look("bob"); b.Mine != "Rust" {
		t.Fatalf("bob's vote: %q, want Rust", b.Mine)
	}
	_, _, err := p.vote("ann", "Cobol")
	var se *shared.Error
	if !errors.As(err, &se) || se.Code != shared.CodeBadData {
		t.Fatalf("a vote for Cobol: %v, want bad_data", err)
	}
}
