package broker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tetherkit/tether/shared"
)

// IdempotencyStore keeps the idempotency window of keyed requests
// (docs/protocol.md §3): which keys of a user ran and what they answered.
// Every Broker has one: broker/memory keeps it in process, broker/nats
// shares it between the nodes. A store that remembers nothing (NoIdempotency)
// is a valid one: every request then runs.
//
// Claim is called for a keyed request that reached its handler. It returns
// a non-nil KeyedRun when the key is new to the window (the caller runs the
// request and calls Finish with its outcome); otherwise the first run's
// Outcome, waiting while that run has not finished, until ctx is done (then
// ctx's error). Any other error means the window could not be consulted:
// the server does not run the request (it fails closed) and answers
// unavailable. window is how long a claim and its outcome are remembered.
type IdempotencyStore interface {
	Claim(ctx context.Context, user, key string, window time.Duration) (KeyedRun, Outcome, error)
}

// KeyedRun is the claim of the first run of a keyed request.
type KeyedRun interface {
	// Finish records the run's outcome, the answer of every repeat of the
	// key within the window.
	Finish(ctx context.Context, out Outcome) error
	// Release gives the key up without an outcome: the run was not applied
	// (it was answered unavailable: a dependency failed under it), and the
	// key sent again runs it again. Repeats waiting for this run get out (an
	// unavailable answer) or claim the key themselves. A store that cannot
	// record the release now keeps trying until it can or the window ends,
	// and returns the error.
	Release(ctx context.Context, out Outcome) error
}

// Outcome is the answer a keyed request got: its reply message, reply ok
// (Type "" and no Err), or an error.
type Outcome struct {
	// Type is the reply message's type; "" for reply ok or an error.
	Type string `json:"type,omitempty"`
	// Data is the reply message's data.
	Data json.RawMessage `json:"data,omitempty"`
	// Err is the error answer.
	Err *shared.Error `json:"error,omitempty"`
}

// NoIdempotency is the IdempotencyStore that remembers nothing: every claim
// is a first run, so a keyed request sent again runs again. A broker whose
// keys are switched off embeds it.
type NoIdempotency struct{}

// Claim implements IdempotencyStore: always a new run.
func (NoIdempotency) Claim(context.Context, string, string, time.Duration) (KeyedRun, Outcome, error) {
	return nopRun{}, Outcome{}, nil
}

// nopRun is NoIdempotency's KeyedRun: its outcome is forgotten.
type nopRun struct{}

func (nopRun) Finish(context.Context, Outcome) error  { return nil }
func (nopRun) Release(context.Context, Outcome) error { return nil }

// publishIDKey is the context key of a publication's deduplication id.
type publishIDKey struct{}

// WithPublishID returns ctx carrying id, the deduplication id of the one
// publication Stream.Publish makes with it. A broker whose Publish can fail
// after the message was kept (its acknowledgement lost: broker/nats) keeps
// a publication with an id at most once within the idempotency window: a
// repeat returns the first one's position and is not delivered again. The
// server sets it for the publications of a keyed request, so that the
// request can run again after an unavailable answer; a broker that cannot
// fail that way may ignore it.
func WithPublishID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, publishIDKey{}, id)
}

// PublishID returns the deduplication id ctx carries for Publish
// (WithPublishID), "" for none.
func PublishID(ctx context.Context) string {
	id, _ := ctx.Value(publishIDKey{}).(string)
	return id
}
