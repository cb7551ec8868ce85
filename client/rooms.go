package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// roomState is what the client remembers about a joined room.
type roomState struct {
	history int    // messages asked for when a join is not a successful resume
	epoch   string // the room's epoch; empty until the first joined
	lastSeq uint64 // the last seq processed in epoch
}

// joinMsg is the join that resumes the room from where the client is.
func (r *roomState) joinMsg(room string) shared.Join {
	j := shared.Join{Room: room, History: r.history}
	if r.epoch != "" {
		since := r.lastSeq
		j.Since, j.Epoch = &since, r.epoch
	}
	return j
}

// joined updates the resume position for a joined reply. Replayed messages
// are the last j.Replayed seqs up to j.Seq, so seqs at or below
// j.Seq-j.Replayed will not be sent: the next resume starts after them.
func (r *roomState) joined(j shared.Joined) {
	if j.Epoch != r.epoch || j.Seq < r.lastSeq {
		// A new incarnation of the room (or a server that lost it): seqs
		// start again.
		r.lastSeq = 0
	}
	r.epoch = j.Epoch
	if n := uint64(max(j.Replayed, 0)); n <= j.Seq && j.Seq-n > r.lastSeq {
		r.lastSeq = j.Seq - n
	}
}

// accept reports whether a room message with seq is new, and if so records
// it as the last one processed.
func (r *roomState) accept(seq uint64) bool {
	if seq <= r.lastSeq {
		return false
	}
	r.lastSeq = seq
	return true
}

// acceptRoomSeq applies accept to room; messages of rooms the client has not
// joined (or has left) are not accepted.
func (c *Client) acceptRoomSeq(room string, seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.rooms[room]
	return rs != nil && rs.accept(seq)
}

// Join joins room, asking for up to history recent messages (they arrive
// through the handlers right after the join), and returns the server's
// joined reply. The room is remembered: after a reconnect the client joins
// it again and resumes where it stopped. Joining a room already joined
// resumes it and returns a fresh joined. Like Request, Join waits for the
// connection when the client is not Open, and its errors are the same.
func (c *Client) Join(ctx context.Context, room string, history int) (shared.Joined, error) {
	if err := shared.ValidRoom(room); err != nil {
		return shared.Joined{}, fmt.Errorf("join %q: %w", room, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var (
		cn  *conn
		rs  *roomState
		had bool
		msg shared.Join
	)
	for cn == nil {
		open, err := c.waitOpen(ctx, shared.TypeOf[shared.Join]())
		if err != nil {
			return shared.Joined{}, err
		}
		// Remember the room only while that connection is the open one: its
		// rejoin list was fixed when it opened, so this request joins the
		// room on it, and every later connection rejoins it.
		c.mu.Lock()
		if c.conn == open {
			cn = open
			if rs, had = c.rooms[room]; !had {
				rs = &roomState{}
				c.rooms[room] = rs
			}
			rs.history = history
			msg = rs.joinMsg(room)
		}
		c.mu.Unlock()
	}

	env, err := c.roundTrip(ctx, cn, msg)
	if err != nil {
		// Timeout or lost connection: keep the room; the next connection
		// joins it.
		return shared.Joined{}, err
	}
	j, err := decodeReply[shared.Joined](msg.MessageType(), env)
	var se *shared.Error
	if errors.As(err, &se) && !had {
		c.forget(room, rs)
	}
	return j, err
}

// Leave leaves room and forgets it: it is not rejoined after a reconnect,
// and its messages still in flight are dropped. When the client is not Open
// there is nothing to leave on the server and Leave returns nil.
func (c *Client) Leave(ctx context.Context, room string) error {
	c.mu.Lock()
	delete(c.rooms, room)
	cn := c.conn
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	msg := shared.Leave{Room: room}
	env, err := c.roundTrip(ctx, cn, msg)
	if err != nil {
		return err
	}
	_, err = decodeReply[shared.Left](msg.MessageType(), env)
	return err
}

// OnJoined registers fn to be called with every joined reply for a room the
// client remembers: explicit Joins and the automatic rejoins after a
// reconnect. When Recovered is false after a rejoin, messages may have been
// missed; tell the user, or fill the gap (OnGap). fn runs on the Run goroutine before the replayed
// messages are handled, and must not block.
func (c *Client) OnJoined(fn func(shared.Joined)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joinedFns = append(c.joinedFns[:len(c.joinedFns):len(c.joinedFns)], fn)
}

// handleJoined records a joined room's epoch and resume position and calls
// the OnJoined callbacks. It runs on the read goroutine.
func (c *Client) handleJoined(env shared.Envelope) {
	j, err := shared.Unmarshal[shared.Joined](env)
	if err != nil {
		c.log.Warn("tether client: undecodable joined", "err", err)
		return
	}
	c.mu.Lock()
	rs := c.rooms[j.Room]
	var (
		g      Gap
		hasGap bool
	)
	if rs != nil {
		g, hasGap = gap(rs.epoch, rs.lastSeq, j)
		rs.joined(j)
	}
	fns, gapFns := c.joinedFns, c.gapFns
	close(c.joinedCh)
	c.joinedCh = make(chan struct{})
	c.mu.Unlock()
	if rs == nil {
		return // left meanwhile
	}
	for _, fn := range fns {
		fn(j)
	}
	if hasGap {
		for _, fn := range gapFns {
			fn(g)
		}
	}
}

// forget drops room if it is still described by rs.
func (c *Client) forget(room string, rs *roomState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rooms[room] == rs {
		delete(c.rooms, room)
	}
}

// rejoin joins the remembered rooms again on a new connection, all requests
// written at once, then waits for the replies. It reports whether every room
// answered joined (recovered or not): the session is then healthy, and the
// reconnect backoff starts over. A room the server refuses for good is
// forgotten.
func (c *Client) rejoin(cn *conn, joins []shared.Join) bool {
	return resend[shared.Joined](c, cn, "rejoin", "room", joins,
		func(j shared.Join) string { return j.Room },
		func(j shared.Join) {
			c.mu.Lock()
			delete(c.rooms, j.Room)
			c.mu.Unlock()
		})
}

// permanent reports whether a join refused with code will be refused again.
func permanent(code string) bool {
	switch code {
	case shared.CodeForbidden, shared.CodeBadData, shared.CodeNotFound, shared.CodeMalformed:
		return true
	}
	return false
}
