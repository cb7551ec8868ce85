package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// idempotency: a key is claimed by exactly one run, on whichever node, and
// every other claim of it gets that run's outcome, waiting while it runs
// (until its ctx ends, without a run of its own); keys are per user.
func (s Suite) idempotency(t *testing.T) {
	nodes, _ := s.start(t, 2, 100)
	ctx := waitCtx(t)
	const window = time.Minute
	if s.KeysOff {
		for i, b := range nodes {
			for range 2 {
				run, _, err := b.Claim(ctx, "u", "k", window)
				if err != nil || run == nil {
					t.Fatalf("node%d with keys off: run %v, err %v; want a run for every claim", i, run, err)
				}
			}
		}
		return
	}
	first, other := nodes[0], nodes[len(nodes)-1]
	run, _, err := first.Claim(ctx, "alice", "k1", window)
	if err != nil || run == nil {
		t.Fatalf("first claim: run %v, err %v; want the run", run, err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	r, _, err := other.Claim(short, "alice", "k1", window)
	cancel()
	if r != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a repeat while the first run goes on, its ctx ending: run %v, err %v; want no run and the ctx's error", r, err)
	}
	if r, _, err := other.Claim(ctx, "bob", "k1", window); err != nil || r == nil {
		t.Fatalf("another user's same key: run %v, err %v; want a run of its own", r, err)
	} else if err := r.Finish(ctx, broker.Outcome{}); err != nil {
		t.Fatal(err)
	}
	want := broker.Outcome{Type: "dice.result", Data: []byte(`{"value":6}`)}
	waiting := make(chan broker.Outcome, 1)
	go func() {
		r, out, err := other.Claim(ctx, "alice", "k1", window)
		if err != nil || r != nil {
			out = broker.Outcome{Type: fmt.Sprintf("run %v, err %v", r, err)}
		}
		waiting <- out
	}()
	if err := run.Finish(ctx, want); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	select {
	case out := <-waiting:
		if !sameOutcome(out, want) {
			t.Fatalf("a repeat waiting for the first run got %+v, want its outcome %+v", out, want)
		}
	case <-time.After(Wait):
		t.Fatalf("a repeat waiting for the first run got no answer within %v of its Finish", Wait)
	}
	for i, b := range nodes {
		r, out, err := b.Claim(ctx, "alice", "k1", window)
		if err != nil || r != nil || !sameOutcome(out, want) {
			t.Errorf("node%d: a repeat after the run: run %v, outcome %+v, err %v; want the run's outcome", i, r, out, err)
		}
	}
	errOut := broker.Outcome{Err: &shared.Error{Code: shared.CodeForbidden, Message: "no"}}
	s.claimRace(t, ctx, nodes, errOut)
}

// claimRace: claims of one key from every node at once: exactly one runs,
// the others get its outcome.
func (s Suite) claimRace(t *testing.T, ctx context.Context, nodes []broker.Broker, want broker.Outcome) {
	const perNode = 4
	type answer struct {
		run broker.KeyedRun
		out broker.Outcome
		err error
	}
	answers := make(chan answer, perNode*len(nodes))
	var wg sync.WaitGroup
	for _, b := range nodes {
		for range perNode {
			wg.Go(func() {
				r, out, err := b.Claim(ctx, "carol", "race", time.Minute)
				if r != nil {
					err = errors.Join(err, r.Finish(ctx, want))
				}
				answers <- answer{r, out, err}
			})
		}
	}
	wg.Wait()
	close(answers)
	runs := 0
	for a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("a racing claim failed: %v", a.err)
		case a.run != nil:
			runs++
		case !sameOutcome(a.out, want):
			t.Errorf("a racing claim that lost got %+v, want the winner's outcome %+v", a.out, want)
		}
	}
	if runs != 1 {
		t.Errorf("%d of %d racing claims of one key got the run, want exactly 1", runs, perNode*len(nodes))
	}
}

// sameOutcome compares two outcomes by value.
func sameOutcome(a, b broker.Outcome) bool {
	if a.Type != b.Type || !bytes.Equal(a.Data, b.Data) || (a.Err == nil) != (b.Err == nil) {
		return false
	}
	return a.Err == nil || (a.Err.Code == b.Err.Code && a.Err.Message == b.Err.Message)
}

// nodes: Control reaches every other node once (never the sender) and
// returns what they reached; Gather asks every other node and says how many
// there are. A single node has no other: nothing, without error.
func (s Suite) nodes(t *testing.T) {
	nodes, recs := s.start(t, 3, 100)
	ctx := waitCtx(t)
	others := len(nodes) - 1
	var names []string
	for i := 1; i < len(nodes); i++ {
		names = append(names, fmt.Sprint("node", i))
	}
	recs[0].Poll(t, fmt.Sprintf("Gather from node0 answered by the %d other nodes", others), func() error {
		answers, n, err := nodes[0].Gather(ctx, "who")
		var got []string
		for _, a := range answers {
			got = append(got, string(a))
		}
		slices.Sort(got)
		if err != nil || n != others || !slices.Equal(got, names) {
			return fmt.Errorf("answers %q of %d nodes, err %v", got, n, err)
		}
		return nil
	})
	c := broker.Control{Kind: broker.ControlSendUser, Target: "alice", Type: "notification", Payload: []byte(`{"type":"notification"}`)}
	n, err := nodes[0].Control(ctx, c)
	if err != nil || n != others*ControlReach {
		t.Fatalf("Control from node0: reached %d, err %v; want %d (%d per other node)", n, err, others*ControlReach, ControlReach)
	}
	for i := 1; i < len(nodes); i++ {
		recs[i].WaitFor(t, fmt.Sprintf("node%d gets the control message", i), func() bool { return len(recs[i].Controls()) >= 1 })
		got := recs[i].Controls()
		if len(got) != 1 || got[0].Kind != c.Kind || got[0].Target != c.Target || got[0].Type != c.Type || !bytes.Equal(got[0].Payload, c.Payload) {
			t.Errorf("node%d got control messages %+v, want %+v once", i, got, c)
		}
	}
	if got := recs[0].Controls(); len(got) != 0 {
		t.Errorf("the sending node got its own control message: %+v", got)
	}
}
