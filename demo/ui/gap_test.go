package ui

import (
	"slices"
	"testing"
)

// TestChatFill: a filled gap's lines go among the room's lines in seq
// order, once each, within the chat's bound, and the notice says so.
func TestChatFill(t *testing.T) {
	lines := func(seqs ...uint64) []ChatLine {
		out := make([]ChatLine, len(seqs))
		for i, s := range seqs {
			out[i] = ChatLine{Seq: s}
		}
		return out
	}
	tests := []struct {
		name      string
		have, add []ChatLine
		want      []uint64
	}{
		{"gap in the middle", lines(1, 2, 8, 9), lines(5, 6, 7), []uint64{1, 2, 5, 6, 7, 8, 9}},
		{"before everything", lines(8, 9), lines(3, 4), []uint64{3, 4, 8, 9}},
		{"into an empty room", nil, lines(3, 4), []uint64{3, 4}},
		{"already shown", lines(3, 4, 5), lines(4, 5), []uint64{3, 4, 5}},
		{"nothing to add", lines(3), nil, []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newChatLog(newRoomStore(), nil)
			l.roomLocked("r").lines = tt.have
			l.fill("r", tt.add, noticeDropped)
			r := l.room("r")
			var got []uint64
			for _, line := range r.lines {
				got = append(got, line.Seq)
			}
			if !slices.Equal(got, tt.want) || r.notice != noticeDropped {
				t.Errorf("seqs %v notice %q, want %v and the dropped notice", got, r.notice, tt.want)
			}
		})
	}
	l := newChatLog(newRoomStore(), nil)
	var many []ChatLine
	for s := range uint64(maxChatLines + 10) {
		many = append(many, ChatLine{Seq: s + 1})
	}
	l.roomLocked("r").lines = lines(maxChatLines + 20)
	l.fill("r", many, noticeFilled)
	if r := l.room("r"); len(r.lines) != maxChatLines || r.lines[len(r.lines)-1].Seq != maxChatLines+20 || r.lines[0].Seq != 12 {
		t.Errorf("a fill over the bound keeps %d lines (%d..%d), want the newest %d", len(r.lines), r.lines[0].Seq, r.lines[len(r.lines)-1].Seq, maxChatLines)
	}
}
