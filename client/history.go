package client

import (
	"context"
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// Publication is one room message of a HistoryPage.
type Publication struct {
	// Meta is the message's room and seq.
	Meta
	// Type is the message's wire type.
	Type string
	// Message is the message decoded by the client's registry; nil when its
	// type is not in the registry or it did not decode (the seq still
	// counts: the page's seqs stay consecutive).
	Message shared.Message
}

// HistoryPage is a page of a room's kept messages, the answer to History
// (docs/protocol.md §4, "history").
type HistoryPage struct {
	// Room is the room.
	Room string
	// Epoch and Head are the room's epoch and last seq at the read.
	Epoch string
	Head  uint64
	// Publications are the messages, oldest first, with consecutive seqs.
	Publications []Publication
	// More is set when the room keeps older messages than the first one
	// here: call History again with before set to its seq.
	More bool
	// Dropped is set when More is not and older messages of the room's
	// epoch (or every message of the epoch the client knew, when the room
	// has a new one) are gone for good.
	Dropped bool
}

// History asks the server for a page of room's kept messages: the newest
// limit (0: 50; at most 100) with a seq below before (0: the newest of
// all), oldest first. The client must have joined room (else an error with
// code not_joined). before is taken to be of the epoch the client knows for
// room: when the room has another one, the page is empty and Dropped.
//
// The messages are returned, not passed to the handlers, and the room's
// resume position does not move. Errors are Request's. Like Request, History
// must not be called synchronously from a handler.
func History(ctx context.Context, c *Client, room string, before uint64, limit int) (HistoryPage, error) {
	if err := shared.ValidRoom(room); err != nil {
		return HistoryPage{}, fmt.Errorf("history of %q: %w", room, err)
	}
	req := shared.History{Room: room, Before: before, Limit: limit}
	c.mu.Lock()
	if rs := c.rooms[room]; rs != nil && before != 0 {
		req.Epoch = rs.epoch
	}
	c.mu.Unlock()
	h, err := Request[shared.History](ctx, c, req)
	if err != nil {
		return HistoryPage{}, err
	}
	page := HistoryPage{Room: room, Epoch: h.Epoch, Head: h.Seq, More: h.More, Dropped: h.Dropped,
		Publications: make([]Publication, 0, len(h.Publications))}
	for _, raw := range h.Publications {
		env, err := shared.DecodeEnvelope(raw)
		if err != nil {
			return HistoryPage{}, fmt.Errorf("history of %q: publication: %w", room, err)
		}
		p := Publication{Meta: Meta{Room: env.Room, Seq: env.Seq}, Type: env.Type}
		if c.reg.Known(env.Type) {
			if m, err := c.reg.Decode(env); err == nil {
				p.Message = m
			} else {
				c.log.Warn("tether client: undecodable history message", "room", room, "seq", env.Seq, "err", err)
			}
		}
		page.Publications = append(page.Publications, p)
	}
	return page, nil
}

// Gap is a run of a room's messages that a rejoin did not deliver: the
// server no longer had them all (joined with Recovered false). Report gaps
// with OnGap; fill them with FillGap.
type Gap struct {
	// Room is the room.
	Room string
	// Epoch is the room's epoch now.
	Epoch string
	// From and To are the first and last seq of Epoch that were not sent
	// (From > To: none of this epoch is missing).
	From, To uint64
	// EpochChanged is set when the room has a new epoch: what the old one
	// had after the last message seen is lost for good.
	EpochChanged bool
}

// Empty reports whether no seq of the room's epoch is missing.
func (g Gap) Empty() bool { return g.From > g.To }

// gap is the run of seqs that a joined reply for a resume from (epoch,
// last) leaves out: the seqs after last up to the first one replayed.
func gap(epoch string, last uint64, j shared.Joined) (Gap, bool) {
	if j.Recovered || epoch == "" {
		return Gap{}, false // recovered, or a fresh join: nothing to fill
	}
	g := Gap{Room: j.Room, Epoch: j.Epoch, From: last + 1, EpochChanged: epoch != j.Epoch || j.Seq < last}
	if g.EpochChanged {
		g.From = 1
	}
	if n := uint64(max(j.Replayed, 0)); n <= j.Seq {
		g.To = j.Seq - n
	}
	return g, !g.Empty() || g.EpochChanged
}

// OnGap registers fn to be called when a rejoin of a room did not recover
// (joined with Recovered false): with the seqs of the room that were not
// sent. fn runs on the Run goroutine right after the OnJoined callbacks,
// before the replayed messages are handled, and must not block: fill the
// gap (FillGap) from another goroutine.
func (c *Client) OnGap(fn func(Gap)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gapFns = append(c.gapFns[:len(c.gapFns):len(c.gapFns)], fn)
}

// FillGap pages back the room's history (History, at most pages requests
// of 100) for the seqs of g and returns those the server still keeps,
// oldest first, and whether some of g's seqs (at its start, or in the old
// epoch) are missing from them: gone for good, or beyond pages pages.
func FillGap(ctx context.Context, c *Client, g Gap, pages int) (pubs []Publication, dropped bool, err error) {
	dropped = g.EpochChanged
	if g.Empty() {
		return nil, dropped, nil
	}
	before := g.To + 1
	var got [][]Publication
	for range max(pages, 1) {
		page, err := History(ctx, c, g.Room, before, shared.MaxHistoryLimit)
		if err != nil {
			return nil, dropped, fmt.Errorf("fill gap %d–%d of %q: %w", g.From, g.To, g.Room, err)
		}
		if page.Epoch != g.Epoch {
			return nil, true, nil // the room started over meanwhile
		}
		var keep []Publication
		for _, p := range page.Publications {
			if p.Seq >= g.From && p.Seq <= g.To {
				keep = append(keep, p)
			}
		}
		got = append(got, keep)
		if len(page.Publications) == 0 || page.Publications[0].Seq <= g.From {
			break // reached the gap's start
		}
		if !page.More {
			dropped = dropped || page.Dropped
			break
		}
		before = page.Publications[0].Seq
	}
	for i := len(got) - 1; i >= 0; i-- {
		pubs = append(pubs, got[i]...)
	}
	if len(pubs) == 0 || pubs[0].Seq > g.From {
		dropped = true // not reached within pages, or gone
	}
	return pubs, dropped, nil
}
