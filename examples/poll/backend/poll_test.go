package backend

import (
	"errors"
	"testing"

	"github.com/tetherkit/tether/shared"
)

// TestMove: a first vote adds one, a changed vote moves one, a reset's
// fresh tally has none; the tally moved from is left alone.
func TestMove(t *testing.T) {
	fresh := freshTally("Best?", []string{"Go", "Rust"}, 2)
	if fresh.Question != "Best?" || fresh.Round != 2 || fresh.Total() != 0 || len(fresh.Options) != 2 {
		t.Fatalf("freshTally: %+v", fresh)
	}
	for _, tt := range []struct {
		name     string
		start    [2]int
		from, to string
		want     [2]int
	}{
		{"first vote", [2]int{0, 0}, "", "Go", [2]int{1, 0}},
		{"second voter", [2]int{1, 0}, "", "Go", [2]int{2, 0}},
		{"changed vote", [2]int{2, 0}, "Go", "Rust", [2]int{1, 1}},
		{"never below zero", [2]int{0, 0}, "Go", "Rust", [2]int{0, 1}},
	} {
		in := freshTally("Best?", []string{"Go", "Rust"}, 0)
		in.Options[0].Votes, in.Options[1].Votes = tt.start[0], tt.start[1]
		out := move(in, tt.from, tt.to)
		if got := [2]int{out.Votes("Go"), out.Votes("Rust")}; got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		if got := [2]int{in.Votes("Go"), in.Votes("Rust")}; got != tt.start {
			t.Errorf("%s: move changed its input to %v", tt.name, got)
		}
	}
	var se *shared.Error
	if err := optionOf(fresh, "Cobol"); !errors.As(err, &se) || se.Code != shared.CodeBadData {
		t.Fatalf("optionOf(Cobol): %v, want bad_data", err)
	}
	if err := optionOf(fresh, "Rust"); err != nil {
		t.Fatalf("optionOf(Rust): %v", err)
	}
}
