package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// LastValue says which publications a room keeps as its last values
// (docs/protocol.md §10): in the rooms whose name matches Rooms, the latest
// message of type Type, or, when Key is set, the latest of each value of
// its data's field Key (the ticker's "symbol").
type LastValue struct {
	// Rooms is a room name or a path.Match pattern of room names
	// ("ticker", "poll.*").
	Rooms string
	// Type is the message type kept, e.g. "ticker.quote". Required.
	Type string
	// Key, when set, is the JSON name of a top-level field of the type's
	// data, a string or a number: each of its values keeps its own last
	// value. A publication without it is kept under the empty key.
	Key string
}

func (lv LastValue) validate() error {
	if lv.Rooms == "" {
		return errors.New("the Rooms pattern is empty: name a room or a pattern such as \"poll.*\"")
	}
	if _, err := path.Match(lv.Rooms, ""); err != nil {
		return fmt.Errorf("the Rooms pattern %q is not valid: %w", lv.Rooms, err)
	}
	if err := shared.ValidTypeName(lv.Type); err != nil {
		return fmt.Errorf("the Type %q: %w", lv.Type, err)
	}
	return nil
}

// lastValueOf returns the rule keeping typ in room, if any.
func (s *Server) lastValueOf(room, typ string) (LastValue, bool) {
	for _, lv := range s.cfg.LastValues {
		if lv.Type == typ {
			if ok, _ := path.Match(lv.Rooms, room); ok {
				return lv, true
			}
		}
	}
	return LastValue{}, false
}

// hasLastValues reports whether room keeps any last value.
func (s *Server) hasLastValues(room string) bool {
	for _, lv := range s.cfg.LastValues {
		if ok, _ := path.Match(lv.Rooms, room); ok {
			return true
		}
	}
	return false
}

// lastSlot returns the slot of a publication of typ with data under rule
// lv: the type, and the key field's value when lv has one.
func lastSlot(lv LastValue, typ string, data json.RawMessage) string {
	if lv.Key == "" {
		return typ
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return typ + "/"
	}
	raw := fields[lv.Key]
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return typ + "/" + str
	}
	var num json.Number
	if json.Unmarshal(raw, &num) == nil {
		return typ + "/" + num.String()
	}
	return typ + "/"
}

// keepLast records a publication as its room's last value when a rule says
// so. A failure is logged: the publication itself went out.
func (s *Server) keepLast(ctx context.Context, room, typ string, data json.RawMessage, payload []byte, res broker.PublishResult) {
	lv, ok := s.lastValueOf(room, typ)
	if !ok {
		return
	}
	p := broker.Publication{Epoch: res.Epoch, Seq: res.Seq, Type: typ, Payload: payload, Time: s.now()}
	if err := s.broker.SetLast(ctx, room, lastSlot(lv, typ, data), p); err != nil {
		s.log.Warn("last value not kept", "room", room, "type", typ, "seq", res.Seq, "err", err)
	}
}

// lastOverlay is how many of a room's newest publications a join reads
// besides the kept last values: a last value is recorded just after its
// publication, so the newest ones may not be recorded yet.
const lastOverlay = 100

// lastFor returns the last values a joiner of room gets with joined at
// position h and the replay (docs/protocol.md §10): the kept ones and the
// newest publications, the latest per slot, without those that the replay
// or the live stream carry.
func (s *Server) lastFor(ctx context.Context, room string, h broker.History) ([]json.RawMessage, error) {
	if !s.hasLastValues(room) {
		return nil, nil
	}
	kept, err := s.broker.Last(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("last values of %q: %w", room, err)
	}
	recent, err := s.broker.HistoryBefore(ctx, room, 0, lastOverlay)
	if err != nil {
		return nil, fmt.Errorf("last values of %q: %w", room, err)
	}
	slots := make(map[string]broker.Publication, len(kept))
	order := make([]string, 0, len(kept))
	put := func(slot string, p broker.Publication) {
		cur, ok := slots[slot]
		if !ok {
			order = append(order, slot)
		}
		if !ok || broker.NewerPublication(p, cur) {
			slots[slot] = p
		}
	}
	for _, p := range kept {
		env, err := shared.DecodeEnvelope(p.Payload)
		if err != nil {
			continue
		}
		if lv, ok := s.lastValueOf(room, p.Type); ok {
			put(lastSlot(lv, p.Type, env.Data), p)
		}
	}
	for _, p := range recent.Publications {
		lv, ok := s.lastValueOf(room, p.Type)
		if !ok {
			continue
		}
		env, err := shared.DecodeEnvelope(p.Payload)
		if err != nil {
			continue
		}
		put(lastSlot(lv, p.Type, env.Data), p)
	}
	var first uint64 // the first replayed seq; 0: no replay
	if len(h.Publications) > 0 {
		first = h.Publications[0].Seq
	}
	out := make([]broker.Publication, 0, len(slots))
	for _, slot := range order {
		p := slots[slot]
		if p.Epoch == h.Epoch && (p.Seq > h.Seq || (first > 0 && p.Seq >= first)) {
			continue // the live stream or the replay carries it, in order
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b broker.Publication) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})
	raws := make([]json.RawMessage, len(out))
	for i, p := range out {
		raws[i] = p.Payload
	}
	return raws, nil
}
