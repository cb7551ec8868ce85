// Package msg is the poll's message contract: the types its server and its
// browser page exchange, compiled by both sides. It is the app's own
// package, beside the kit's protocol (shared), as any Tether app's is.
package msg

import (
	"slices"
	"strings"

	"github.com/tetherkit/tether/shared"
)

// Map is the keyed-state room (docs/protocol.md §11) that holds the poll:
// the server owns it (server.NewMap), every page subscribes to it
// (client.NewMap) and shows its TallyKey entry. Pages only read it: the
// server refuses their writes, a vote goes through Vote.
const Map = "poll"

// TallyKey is the key of the map's one entry, the Tally. One entry for all
// the counts makes a changed vote one write: its count moves from one
// option to the other at the same revision.
const TallyKey = "tally"

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

// Look asks for the sender's own vote (page → server, a request answered
// with a Ballot): a page that signs in again shows which option it voted
// for. The counts come from the map, not from Look.
type Look struct{}

// MessageType implements shared.Message.
func (Look) MessageType() string { return "poll.look" }

// Ballot answers a Vote or a Look: the sender's own vote ("" when none)
// and the round it counts in; a vote of a round before the Tally's was
// taken away by a reset.
type Ballot struct {
	Mine  string `json:"mine,omitempty"`
	Round uint64 `json:"round"`
}

// MessageType implements shared.Message.
func (Ballot) MessageType() string { return "poll.ballot" }

// Tally is the poll's state as everyone sees it: the value of the map's
// TallyKey entry. The map's revisions order its changes, so it carries no
// revision of its own.
type Tally struct {
	Question string   `json:"question"`
	Options  []Option `json:"options"`
	// Round counts the resets: a vote cast in an earlier round is gone.
	Round uint64 `json:"round"`
}

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
	return r
}
