// Package msg is the poll's message contract: the types its server and its
// browser page exchange, compiled by both sides. It is the app's own
// package, beside the kit's protocol (shared), as any Tether app's is.
package msg

import (
	"slices"
	"strings"

	"github.com/tetherkit/tether/shared"
)

// Room is the room every page joins: the server publishes each new Tally
// there.
const Room = "poll"

// Vote asks the server to count the sender's vote for Option (page →
// server, a request answered with a Ballot). A second Vote changes the
// sender's vote: every user has one.
type Vote struct {
	Option string `json:"option"`
}

// MessageType implements shared.Message: the name on the wire.
func (Vote) MessageType() string { return "poll.vote" }

// Validate implements shared.Validator: the server refuses an empty option
// on its field before the handler runs (the handler checks that the option
// is one of the poll's).
func (v Vote) Validate() error {
	if strings.TrimSpace(v.Option) == "" {
		return &shared.FieldError{Field: "option", Problem: "is required"}
	}
	return nil
}

// Look asks for the current Tally and the sender's own vote (page → server,
// a request answered with a Ballot): a page that joins late shows the
// counts at once.
type Look struct{}

// MessageType implements shared.Message.
func (Look) MessageType() string { return "poll.look" }

// Ballot answers a Vote or a Look: the sender's own vote ("" when none in
// this round) and the tally.
type Ballot struct {
	Mine  string `json:"mine,omitempty"`
	Tally Tally  `json:"tally"`
}

// MessageType implements shared.Message.
func (Ballot) MessageType() string { return "poll.ballot" }

// Tally is the poll's state as everyone sees it (server → room, after
// every change).
type Tally struct {
	Question string   `json:"question"`
	Options  []Option `json:"options"`
	// Round counts the resets: a vote cast in an earlier round is gone.
	Round uint64 `json:"round"`
	// Rev increases with every change: of two tallies the page shows the
	// one with the higher Rev, whatever order they arrived in.
	Rev uint64 `json:"rev"`
}

// MessageType implements shared.Message.
func (Tally) MessageType() string { return "poll.tally" }

// Votes returns the votes for option, 0 when it is not one of the poll's.
func (t Tally) Votes(option string) int {
	if i := slices.IndexFunc(t.Options, func(o Option) bool { return o.Name == option }); i >= 0 {
		return t.Options[i].Votes
	}
	return 0
}

// Total returns the number of votes cast.
func (t Tally) Total() int {
	n := 0
	for _, o := range t.Options {
		n += o.Votes
	}
	return n
}

// Option is one answer and its votes.
type Option struct {
	Name  string `json:"name"`
	Votes int    `json:"votes"`
}

// NewRegistry returns the protocol's system messages and the poll's: the
// server and the page decode with it.
func NewRegistry() *shared.Registry {
	r := shared.NewRegistry()
	shared.Register[Vote](r)
	shared.Register[Look](r)
	shared.Register[Ballot](r)
	shared.Register[Tally](r)
	return r
}
