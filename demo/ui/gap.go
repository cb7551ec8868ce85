package ui

import (
	"log/slog"
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

// gapFiller is the gap handling feature: after a rejoin of a chat room
// that did not recover, it pages back the room's history (client.FillGap)
// on a goroutine of the login, and shows the messages still kept, in seq
// order, or says that older ones were dropped.
type gapFiller struct {
	noReset
	chat  *chatLog
	rooms *roomStore
	log   *slog.Logger
}

// wire implements feature.
func (f *gapFiller) wire(l login) {
	l.cl.OnGap(only(l.mine, func(g client.Gap) { f.onGap(l, g) }))
}

// onGap fills g, a gap of a room of the login l.
func (f *gapFiller) onGap(l login, g client.Gap) {
	if !f.rooms.info(g.Room).forChat {
		return
	}
	ctx, cl := l.ctx, l.cl
	want := g
	if !want.Empty() && want.To-want.From+1 > maxChatLines {
		want.From = want.To - maxChatLines + 1 // older ones would not be shown
	}
	f.chat.setNotice(g.Room, noticeFilling)
	go func() {
		pubs, dropped, err := client.FillGap(ctx, cl, want, gapPages)
		if ctx.Err() != nil {
			return // logged out
		}
		if err != nil {
			f.log.Warn("tether ui: filling a gap failed", "room", g.Room, "err", err)
			f.chat.setNotice(g.Room, noticeFillFail)
			return
		}
		user := l.user()
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
		f.chat.fill(g.Room, lines, notice)
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
