package backend

import (
	"fmt"
	"slices"
	"sync"

	"github.com/tetherkit/tether/examples/poll/msg"
	"github.com/tetherkit/tether/shared"
)

// poll counts one vote per user. Its methods return the Tally after the
// change, with a Rev that orders it among all the others.
type poll struct {
	question string
	options  []string

	mu    sync.Mutex
	votes map[string]int // user → index in options
	round uint64
	rev   uint64
}

func newPoll(question string, options []string) *poll {
	return &poll{question: question, options: options, votes: make(map[string]int)}
}

// vote sets user's vote to option, replacing the one they had; changed
// is false when it was that already.
func (p *poll) vote(user, option string) (b msg.Ballot, changed bool, err error) {
	i := slices.Index(p.options, option)
	if i < 0 {
		return msg.Ballot{}, false, &shared.Error{Code: shared.CodeBadData, Message: fmt.Sprintf("%q is not an option of this poll", option)}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.votes[user]; !ok || old != i {
		p.votes[user] = i
		p.rev++
		changed = true
	}
	return msg.Ballot{Mine: option, Tally: p.tallyLocked()}, changed, nil
}

// look returns the tally and user's vote.
func (p *poll) look(user string) msg.Ballot {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := msg.Ballot{Tally: p.tallyLocked()}
	if i, ok := p.votes[user]; ok {
		b.Mine = p.options[i]
	}
	return b
}

// reset forgets every vote and starts a new round.
func (p *poll) reset() msg.Tally {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.votes)
	p.round++
	p.rev++
	return p.tallyLocked()
}

func (p *poll) tallyLocked() msg.Tally {
	t := msg.Tally{Question: p.question, Options: make([]msg.Option, len(p.options)), Round: p.round, Rev: p.rev}
	for i, name := range p.options {
		t.Options[i].Name = name
	}
	for _, i := range p.votes {
		t.Options[i].Votes++
	}
	return t
}
