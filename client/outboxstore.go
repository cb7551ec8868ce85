package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tetherkit/tether/shared"
)

// OutboxStore keeps the outbox (Send's queue) beyond the life of one
// Client, so that what a browser page queued and never had answered is
// sent by the page that comes next: after a reload, after Back, or when the
// app is opened again after its tab was closed (docs/protocol.md §3). It is
// organised in records: each live client (an owner) writes its own record
// in a scope (the server and the signed-in user) and holds a lease on it,
// renewed by every write; a client takes over (claims) the records whose
// lease ran out or was released, so one line is never sent by two owners.
// BrowserOutboxStore keeps the records in localStorage; native programs have
// none by default (a file would do).
type OutboxStore interface {
	// Save replaces owner's record in scope with sends, oldest first, and
	// renews owner's lease on it for OutboxLease; with no sends it deletes
	// the record. It returns ErrOutboxTaken, and writes nothing, when the
	// record owner saved before is gone: another owner claimed it.
	Save(scope, owner string, sends []StoredSend) error
	// Release ends owner's lease in scope at once: the page is going away
	// (or the client stopped), and another owner may claim the record now.
	// It must not block: browsers call it from the pagehide event.
	Release(scope, owner string)
	// Claim moves the sends of every other record of scope whose lease has ended
	// into owner's record and returns them, oldest record first. Two Claims
	// of one scope never return the same send.
	Claim(ctx context.Context, scope, owner string) ([]StoredSend, error)
	// Drop deletes every record of scope: the user signed out.
	Drop(scope string) error
}

// StoredSend is one message of a stored outbox.
type StoredSend struct {
	// Key is the message's idempotency key.
	Key string `json:"key"`
	// Type is the message type.
	Type string `json:"type"`
	// Data is the message's payload as JSON.
	Data json.RawMessage `json:"data,omitempty"`
}

// ErrOutboxTaken is returned by OutboxStore.Save when another owner has
// claimed the record: its sends are that owner's to send now.
var ErrOutboxTaken = errors.New("client: stored outbox taken over by another client")

// OutboxLease is how long a record of an OutboxStore stays its owner's
// after its last write. A page that dies without pagehide (a crash) keeps
// its sends from the next page this long.
const OutboxLease = 15 * time.Second

// outboxScope is the scope of the stored outbox for user on the server at
// url: the server remembers idempotency keys per user.
func outboxScope(url, user string) string {
	return redactURL(url) + " " + user
}

// storeOutboxLocked saves the outbox to the store when the client knows its
// user. When another owner took the stored part over, that part leaves the
// queue (it is the other owner's to send) and the rest is saved anew. c.mu
// is held.
func (c *Client) storeOutboxLocked() {
	st := c.opts.OutboxStore
	if st == nil || c.scope == "" {
		return
	}
	sends := make([]StoredSend, 0, len(c.outbox))
	for _, o := range c.outbox {
		sends = append(sends, o.stored)
	}
	err := st.Save(c.scope, c.keyPrefix, sends)
	if errors.Is(err, ErrOutboxTaken) {
		kept := c.outbox[:0]
		for _, o := range c.outbox {
			if !o.saved {
				kept = append(kept, o)
			}
		}
		clear(c.outbox[len(kept):])
		c.log.Info("tether client: another client took over the stored outbox", "taken", len(c.outbox)-len(kept))
		c.outbox = kept
		sends = sends[:0]
		for _, o := range c.outbox {
			sends = append(sends, o.stored)
		}
		err = st.Save(c.scope, c.keyPrefix, sends)
	}
	if err != nil {
		c.log.Warn("tether client: cannot store the outbox", "err", err)
		return
	}
	for _, o := range c.outbox {
		o.saved = true
	}
}

// storeOutbox is storeOutboxLocked for callers without c.mu.
func (c *Client) storeOutbox() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.storeOutboxLocked()
}

// adoptOutbox sets the store's scope for the user the server greeted, and
// claims the sends that earlier clients of that user left unanswered: they
// go first, in their order, before this client's own. It runs on the
// outbox sender before it sends anything.
func (c *Client) adoptOutbox(ctx context.Context, user string) {
	st := c.opts.OutboxStore
	if st == nil || user == "" {
		return
	}
	scope := outboxScope(c.opts.URL, user)
	c.mu.Lock()
	if c.scope != scope {
		c.scope = scope
		for _, o := range c.outbox {
			o.saved = false // saved under no scope yet, or another
		}
	}
	c.mu.Unlock()
	claimed, err := st.Claim(ctx, scope, c.keyPrefix)
	if err != nil {
		c.log.Warn("tether client: cannot claim the stored outbox", "err", err)
	}
	var adopted []*outgoing
	for _, s := range claimed {
		m, err := c.reg.Decode(shared.Envelope{Type: s.Type, Data: s.Data})
		if err != nil {
			c.log.Warn("tether client: dropping a stored send this client cannot decode", "type", s.Type, "key", s.Key, "err", err)
			continue
		}
		adopted = append(adopted, &outgoing{msg: m, key: s.Key, stored: s, saved: true, adoptedAt: time.Now()})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scope != scope {
		return
	}
	if len(adopted) > 0 {
		c.log.Info("tether client: sending what an earlier page left in the outbox", "sends", len(adopted))
		c.outbox = append(adopted, c.outbox...)
	}
	c.storeOutboxLocked()
}

// releaseOutbox releases the client's lease on its stored outbox, so that
// the next page (or client) of the user may send it at once.
func (c *Client) releaseOutbox() {
	c.mu.Lock()
	scope := c.scope
	c.mu.Unlock()
	if st := c.opts.OutboxStore; st != nil && scope != "" {
		st.Release(scope, c.keyPrefix)
	}
}

// DropOutbox forgets every message waiting in the outbox, and, with an
// OutboxStore, every send stored for the client's user by any client: call
// it when the user signs out. A message already written may still be
// applied by the server.
func (c *Client) DropOutbox() error {
	c.mu.Lock()
	clear(c.outbox)
	c.outbox = c.outbox[:0]
	scope := c.scope
	c.mu.Unlock()
	if st := c.opts.OutboxStore; st != nil && scope != "" {
		if err := st.Drop(scope); err != nil {
			return fmt.Errorf("drop the stored outbox: %w", err)
		}
	}
	return nil
}

// storedSend is the stored form of m with key.
func storedSend(key string, m shared.Message) (StoredSend, error) {
	frame, err := shared.Encode(shared.Envelope{}, m)
	if err != nil {
		return StoredSend{}, err
	}
	env, err := shared.DecodeEnvelope(frame)
	if err != nil {
		return StoredSend{}, err
	}
	return StoredSend{Key: key, Type: env.Type, Data: env.Data}, nil
}

// claimTick is when an idle outbox sender looks for sends left by clients
// whose lease ran out: never without a store.
func (c *Client) claimTick() <-chan time.Time {
	if c.opts.OutboxStore == nil {
		return nil
	}
	return time.After(OutboxLease)
}

// adoptedNotJoined handles a send taken over from an earlier page that the
// server refused with not_joined: the new page adopts the sends as soon as
// it is connected, usually before the app has joined its rooms again. The
// refusal used the send's key (the server remembers that outcome, and
// nothing was applied), so the send gets a fresh key and goes again after
// the next joined, for up to RequestTimeout after the adoption. It reports
// whether the send is to go again; otherwise the refusal is final (and
// logged: the page that made the send is gone).
func (c *Client) adoptedNotJoined(cn *conn, o *outgoing, env shared.Envelope) bool {
	code := errorCodeOf(env)
	if o.adoptedAt.IsZero() || code == "" {
		return false
	}
	left := c.opts.RequestTimeout - time.Since(o.adoptedAt)
	if code != shared.CodeNotJoined || left <= 0 {
		c.log.Warn("tether client: a send left by an earlier page was refused", "type", o.stored.Type, "code", code)
		return false
	}
	c.mu.Lock()
	joined := c.joinedCh
	o.key = c.newKey()
	o.stored.Key = o.key
	c.storeOutboxLocked()
	c.mu.Unlock()
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-joined:
	case <-t.C:
	case <-cn.done:
	}
	return true
}
