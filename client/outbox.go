package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tetherkit/tether/shared"
)

// ErrOutboxFull is returned by Send when Config.Outbox messages are already
// waiting to be sent: the client has been offline for a while, or the
// server does not answer. The message was not queued.
var ErrOutboxFull = errors.New("client: outbox full")

// sendAgainPause is how long a keyed send waits before trying again after
// the server did not run it (rate_limited, unavailable). Sends are one at a
// time, so this keeps the refusals (and the server's 1008 abuse rule) far
// away.
const sendAgainPause = 250 * time.Millisecond

// outgoing is a message in the outbox.
type outgoing struct {
	msg    shared.Message
	key    string
	stored StoredSend // its stored form (outboxstore.go)
	saved  bool       // in the client's record of Config.OutboxStore
	// adoptedAt is when the client took the message over from an earlier
	// client of the user (zero: its own).
	adoptedAt time.Time
}

// newKey returns a fresh idempotency key: the client's random prefix and a
// counter, unique among the user's clients.
func (c *Client) newKey() string {
	return c.keyPrefix + "-" + strconv.FormatUint(c.nextKey.Add(1), 10)
}

// Send queues m for the server and returns without waiting for an answer.
// Messages are sent in the order Send was called, one at a time, each with
// an idempotency key (docs/protocol.md §3): when the connection is lost the
// unanswered ones are sent again after the reconnect, once the rooms are
// rejoined, and the server applies each exactly once. Sends made while the
// client is offline wait in the outbox (Config.Outbox messages at most;
// beyond that Send returns ErrOutboxFull). An error answer from the server
// reaches the handlers of shared.Error (see On), once per message.
//
// Exactly once holds while the client comes back within the server's
// window (5 minutes by default); a message written before a longer outage
// and never answered may be applied twice. Close stops sending what is
// still queued; with an OutboxStore (in the browser: localStorage) the
// user's next client sends it (docs/protocol.md §3), and DropOutbox
// forgets it.
//
// With a negative Config.Outbox there is no outbox: Send writes m at once
// and returns ErrNotConnected (possibly wrapped) when the client is not
// Open; if ctx ends while the frame is being written, the connection is
// dropped and re-established, since a partly written frame cannot be taken
// back.
func (c *Client) Send(ctx context.Context, m shared.Message) error {
	if c.opts.Outbox < 0 {
		return c.sendNow(ctx, m)
	}
	key := c.newKey()
	stored, err := storedSend(key, m)
	if err != nil {
		return fmt.Errorf("send %s: %w", m.MessageType(), err)
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return fmt.Errorf("send %s: %w", m.MessageType(), ErrClosed)
	case len(c.outbox) >= c.opts.Outbox:
		c.mu.Unlock()
		return fmt.Errorf("send %s: %d messages waiting: %w", m.MessageType(), len(c.outbox), ErrOutboxFull)
	}
	c.outbox = append(c.outbox, &outgoing{msg: m, key: key, stored: stored})
	c.storeOutboxLocked()
	c.mu.Unlock()
	select {
	case c.outboxWake <- struct{}{}:
	default:
	}
	return nil
}

// Outbox returns how many messages given to Send are waiting to be sent or
// answered.
func (c *Client) Outbox() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.outbox)
}

// sendNow writes m on the open connection, without outbox.
func (c *Client) sendNow(ctx context.Context, m shared.Message) error {
	c.mu.Lock()
	cn := c.conn
	c.mu.Unlock()
	if cn == nil {
		return fmt.Errorf("send %s: %w", m.MessageType(), ErrNotConnected)
	}
	if err := cn.write(ctx, shared.Envelope{}, m); err != nil {
		if errors.Is(err, errConnEnded) {
			err = ErrNotConnected
		}
		return fmt.Errorf("send %s: %w", m.MessageType(), err)
	}
	return nil
}

// outboxHead returns the oldest queued message, or nil.
func (c *Client) outboxHead() *outgoing {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.outbox) == 0 {
		return nil
	}
	return c.outbox[0]
}

// outboxDone removes o, answered, from the head of the outbox.
func (c *Client) outboxDone(o *outgoing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.outbox) > 0 && c.outbox[0] == o {
		c.outbox[0] = nil
		c.outbox = c.outbox[1:]
		c.storeOutboxLocked()
	}
}

// flushOutbox sends the outbox on cn, one message at a time, each waiting
// for its answer, from when cn is ready (its rooms rejoined) until it ends.
func (c *Client) flushOutbox(cn *conn) {
	select {
	case <-cn.ready:
	case <-cn.done:
		return
	}
	c.adoptOutbox(cn.ctx, cn.user)
	for {
		o := c.outboxHead()
		if o == nil {
			select {
			case <-c.outboxWake:
				continue
			case <-c.claimTick():
				// What a page that died without pagehide left is free
				// once its lease ran out.
				c.adoptOutbox(cn.ctx, cn.user)
				continue
			case <-cn.done:
				return
			}
		}
		if c.opts.OutboxStore != nil {
			// Renew the lease, and make sure the line is still this
			// client's to send: another page of the user may have taken
			// it over while this one was frozen.
			c.storeOutbox()
			if c.outboxHead() != o {
				continue
			}
		}
		// An adopted send's error answer is not the handlers' news: the
		// page that made it is gone (see adoptedNotJoined).
		env, err := c.keyedRoundTrip(cn, o.msg, o.key, o.adoptedAt.IsZero())
		switch {
		case err != nil && cn.ctx.Err() != nil:
			return // the connection ended: sent again on the next one
		case err != nil:
			// No answer in time: ask again (the server answers a key once);
			// the pause keeps an unexpected immediate failure from spinning.
			if !sleepCtx(cn.ctx, sendAgainPause) {
				return
			}
			continue
		case sendAgain(env):
			if !sleepCtx(cn.ctx, sendAgainPause) {
				return
			}
			continue
		case c.adoptedNotJoined(cn, o, env):
			continue
		}
		c.outboxDone(o)
	}
}

// keyedRoundTrip sends m with key as a request on cn and waits for its
// answer, at most RequestTimeout. send marks an outbox message, whose error
// answer the read loop hands to the handlers.
func (c *Client) keyedRoundTrip(cn *conn, m shared.Message, key string, send bool) (shared.Envelope, error) {
	ctx, cancel := context.WithTimeout(cn.ctx, c.opts.RequestTimeout)
	defer cancel()
	cl, err := cn.sendKeyed(ctx, c.nextID.Add(1), key, m, send)
	if err != nil {
		return shared.Envelope{}, err
	}
	return cn.wait(ctx, cl)
}

// sendAgain reports whether env is an error answer saying that the message
// was not run and may be sent again later: rate_limited, or unavailable (its
// idempotency key could not be checked, or its first run is still going).
func sendAgain(env shared.Envelope) bool {
	code := errorCodeOf(env)
	return code == shared.CodeRateLimited || code == shared.CodeUnavailable
}

// errorCodeOf is the code of an error envelope, "" for other envelopes.
func errorCodeOf(env shared.Envelope) string {
	if env.Type != shared.TypeOf[shared.Error]() {
		return ""
	}
	e, err := shared.Unmarshal[shared.Error](env)
	if err != nil {
		return shared.CodeInternal
	}
	return e.Code
}

// sleepCtx waits for d and reports false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
