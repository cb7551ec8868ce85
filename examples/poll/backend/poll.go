package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/examples/poll/msg"
)

// vote is a user's vote: the option and the round it was cast in.
type vote struct {
	option string
	round  uint64
}

// freshTally is the poll with no vote, in round.
func freshTally(question string, options []string, round uint64) msg.Tally {
	t := msg.Tally{Question: question, Options: make([]msg.Option, len(options)), Round: round}
	for i, name := range options {
		t.Options[i].Name = name
	}
	return t
}

// move returns t with one vote moved from option from ("" for none) to
// option to. It leaves t as it was.
func move(t msg.Tally, from, to string) msg.Tally {
	t.Options = slices.Clone(t.Options)
	for i := range t.Options {
		switch t.Options[i].Name {
		case from:
			t.Options[i].Votes = max(0, t.Options[i].Votes-1)
		case to:
			t.Options[i].Votes++
		}
	}
	return t
}

// optionOf checks that option is one of t's.
func optionOf(t msg.Tally, option string) error {
	if !slices.ContainsFunc(t.Options, func(o msg.Option) bool { return o.Name == option }) {
		return &shared.Error{Code: shared.CodeBadData, Message: fmt.Sprintf("%q is not an option of this poll", option)}
	}
	return nil
}

// updateTally changes the map's tally with fn by compare-and-set: it reads
// the tally and its revision, writes fn's result only if the revision has
// not moved (server.IfRev), and on server.ErrConflict (another write won:
// another node's, in a cluster) reads again and retries, until ctx is done.
// fn returning changed false leaves the map alone. It returns the tally
// written (or read, when unchanged).
func updateTally(ctx context.Context, m *server.Map[string, msg.Tally], fn func(msg.Tally) (next msg.Tally, changed bool, err error)) (msg.Tally, error) {
	wait := time.Millisecond
	for {
		cur, rev, ok := m.Get(msg.TallyKey)
		if !ok {
			return msg.Tally{}, fmt.Errorf("poll: the map has no %q entry", msg.TallyKey)
		}
		next, changed, err := fn(cur)
		if err != nil || !changed {
			return next, err
		}
		if _, err := m.Set(ctx, msg.TallyKey, next, server.IfRev(rev)); err == nil {
			return next, nil
		} else if !errors.Is(err, server.ErrConflict) {
			return msg.Tally{}, fmt.Errorf("poll: write the tally: %w", err)
		}
		// The winning change reaches this node's copy within milliseconds.
		select {
		case <-ctx.Done():
			return msg.Tally{}, fmt.Errorf("poll: write the tally: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
