package backend

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/examples/poll/msg"
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

// TestUpdateTallyRetries: writers racing on the tally without the vote
// lock (as nodes of a cluster do) conflict, retry, and lose no vote.
func TestUpdateTallyRetries(t *testing.T) {
	hub, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := server.NewMap[string, msg.Tally](ctx, hub, msg.Map, server.MapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set(ctx, msg.TallyKey, freshTally("Best?", []string{"Go", "Rust"}, 0), server.IfRev(0)); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := updateTally(ctx, m, func(t msg.Tally) (msg.Tally, bool, error) { return move(t, "", "Go"), true, nil }); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if tl, _, _ := m.Get(msg.TallyKey); tl.Votes("Go") != n {
		t.Fatalf("%d votes counted, want %d", tl.Votes("Go"), n)
	}
	if _, err := updateTally(ctx, m, func(t msg.Tally) (msg.Tally, bool, error) { return t, false, optionOf(t, "Cobol") }); err == nil {
		t.Fatal("updateTally kept no error of fn")
	}
}
