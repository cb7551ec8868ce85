package ui

import (
	"slices"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// gapPages bounds the history requests made to fill one gap: the chat
// shows maxChatLines lines, so that many of the gap's newest are enough.
const gapPages = (maxChatLines + shared.MaxHistoryLimit - 1) / shared.MaxHistoryLimit

// Notices of a gap, as the chat page shows them.
const (
	noticeFilling  = "Reconnected — fetching the messages missed meanwhile…"
	noticeFilled   = "Reconnected — the messages missed meanwhile are shown."
	noticeDropped  = "Reconnected — older messages were dropped by the server and cannot be shown."
	noticeFillFail = "Reconnected — some messages may have been missed (they could not be fetched)."
)

// onGap fills a chat room's gap after a rejoin that did not recover: it
// pages back the room's history (client.FillGap) on a goroutine of the
// login, and shows the messages still kept, in seq order, or says that
// older ones were dropped.
func (s *Session) onGap(cl *client.Client, g client.Gap) {
	if !s.rooms.info(g.Room).forChat {
		return
	}
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil {
		return
	}
	want := g
	if !want.Empty() && want.To-want.From+1 > maxChatLines {
		want.From = want.To - maxChatLines + 1 // older ones would not be shown
	}
	s.chat.setNotice(g.Room, noticeFilling)
	go func() {
		pubs, dropped, err := client.FillGap(ctx, cl, want, gapPages)
		if ctx.Err() != nil {
			return // logged out
		}
		if err != nil {
			s.log.Warn("tether ui: filling a gap failed", "room", g.Room, "err", err)
			s.chat.setNotice(g.Room, noticeFillFail)
			return
		}
		user := s.Status().User
		lines := make([]ChatLine, 0, len(pubs))
		for _, p := range pubs {
			if m, ok := p.Message.(msg.ChatMessage); ok {
				lines = append(lines, ChatLine{Seq: p.Seq, User: m.User, Name: m.Name, Text: m.Text, Time: m.Time, Mine: m.User == user})
			}
		}
		notice := noticeFilled
		if dropped || (g.From < want.From) {
			notice = noticeDropped
		}
		s.chat.fill(g.Room, lines, notice)
	}()
}

// setNotice sets the notice of room name.
func (l *chatLog) setNotice(name, notice string) {
	l.mu.Lock()
	l.roomLocked(name).notice = notice
	l.mu.Unlock()
	l.changed()
}

// fill puts lines of a filled gap among room name's lines, in seq order
// (a seq already shown is not shown twice), and sets its notice.
func (l *chatLog) fill(name string, lines []ChatLine, notice string) {
	l.mu.Lock()
	r := l.roomLocked(name)
	for _, line := range lines {
		i, found := slices.BinarySearchFunc(r.lines, line.Seq, func(x ChatLine, seq uint64) int {
			switch {
			case x.Seq < seq:
				return -1
			case x.Seq > seq:
				return 1
			}
			return 0
		})
		if !found {
			r.lines = slices.Insert(r.lines, i, line)
		}
	}
	if n := len(r.lines); n > maxChatLines {
		r.lines = slices.Clone(r.lines[n-maxChatLines:])
	}
	r.notice = notice
	l.mu.Unlock()
	l.changed()
}
