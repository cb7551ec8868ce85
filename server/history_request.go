package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// historyPage answers a history request (docs/protocol.md §4): the newest
// limit kept publications of room below before, and whether older ones are
// kept (more) or were dropped.
func historyPage(ctx context.Context, b broker.Broker, req shared.History) (shared.History, error) {
	limit := req.Limit
	if limit <= 0 {
		limit = shared.DefaultHistoryLimit
	}
	limit = min(limit, shared.MaxHistoryLimit)
	// One more than asked for tells whether older ones are kept.
	h, err := b.HistoryBefore(ctx, req.Room, req.Before, limit+1)
	if err != nil {
		return shared.History{}, fmt.Errorf("history of %q: %w", req.Room, err)
	}
	page := shared.History{Room: req.Room, Epoch: h.Epoch, Seq: h.Seq}
	if req.Epoch != "" && req.Epoch != h.Epoch {
		page.Dropped = true // the seqs asked about belong to a gone epoch
		return page, nil
	}
	pubs := h.Publications
	if len(pubs) > limit {
		pubs, page.More = pubs[len(pubs)-limit:], true
	}
	// The lowest seq the page reaches down to, exclusive: below it lie the
	// seqs that are not here.
	floor := req.Before
	if floor == 0 || floor > h.Seq+1 {
		floor = h.Seq + 1
	}
	if len(pubs) > 0 {
		floor = pubs[0].Seq
	}
	page.Dropped = !page.More && floor > 1
	page.Publications = make([]json.RawMessage, len(pubs))
	for i, p := range pubs {
		page.Publications[i] = p.Payload
	}
	return page, nil
}

// history handles a history request from c: the room must be joined.
func (s *Server) history(c *Conn, reqID uint64, req shared.History) {
	if !c.Joined(req.Room) {
		c.sendError(reqID, &shared.Error{Code: shared.CodeNotJoined,
			Message: fmt.Sprintf("join the room %q before asking for its history", req.Room), Field: "data.room"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Context(), brokerTimeout)
	defer cancel()
	page, err := historyPage(ctx, s.broker, req)
	if err != nil {
		s.onError(c, err)
		c.sendError(reqID, &shared.Error{Code: shared.CodeInternal, Message: "the room's history is not available, try again"})
		return
	}
	if err := c.sendEnv(shared.Envelope{ID: reqID}, page); err != nil {
		s.onError(c, fmt.Errorf("history reply to %s: %w", c.id, err))
	}
}
