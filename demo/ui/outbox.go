package ui

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// Chat lines go through the client's outbox (client.Client.Send): typed
// while offline they wait and are sent when the connection is back, each
// exactly once. Until the server has one (its chat.message comes back to the
// room) the chat shows it as pending. And "… is typing": an ephemeral room
// event (msg.ChatTyping) sent at most every typingEvery while the user
// types, shown for typingShown after the last one.

// Typing timings.
const (
	typingEvery = 3 * time.Second // at most one chat.typing per room this often
	typingShown = 5 * time.Second // how long "… is typing" stays after the last
)

// pendingStore is the outbox and typing feature: per room, the lines given
// to the outbox that the server has not echoed yet, and who is typing
// where. An error the server sends outside any request is the answer to a
// line of the outbox, or else a toast.
type pendingStore struct {
	changes

	rooms  *roomStore
	toasts *toastStore

	mu      sync.Mutex
	lines   map[string][]ChatLine // room → pending lines, oldest first
	typists map[string]map[string]typist
	sentAt  map[string]time.Time // room → when this app last sent chat.typing
}

// typist is a user typing in a room, until a time.
type typist struct {
	name  string
	until time.Time
}

func newPendingStore(rooms *roomStore, toasts *toastStore) *pendingStore {
	return &pendingStore{rooms: rooms, toasts: toasts, lines: make(map[string][]ChatLine), typists: make(map[string]map[string]typist),
		sentAt: make(map[string]time.Time)}
}

// reset forgets everything at logout.
func (p *pendingStore) reset() {
	p.mu.Lock()
	clear(p.lines)
	clear(p.typists)
	clear(p.sentAt)
	p.mu.Unlock()
	p.changed()
}

// add records a line given to the outbox.
func (p *pendingStore) add(room string, l ChatLine) {
	p.mu.Lock()
	p.lines[room] = append(p.lines[room], l)
	p.mu.Unlock()
	p.changed()
}

// confirm drops the oldest pending line of room with text: the server
// published it.
func (p *pendingStore) confirm(room, text string) {
	p.mu.Lock()
	ls := p.lines[room]
	i := slices.IndexFunc(ls, func(l ChatLine) bool { return l.Text == text && l.Failed == "" })
	if i >= 0 {
		p.lines[room] = slices.Delete(ls, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 {
		p.changed()
	}
}

// fail marks the oldest pending line (of any room) as refused by the
// server with why; it reports whether there was one.
func (p *pendingStore) fail(why string) bool {
	p.mu.Lock()
	var oldest *ChatLine
	for _, ls := range p.lines {
		for i := range ls {
			if ls[i].Failed == "" && (oldest == nil || ls[i].Time < oldest.Time) {
				oldest = &ls[i]
			}
		}
	}
	if oldest != nil {
		oldest.Failed = why
	}
	p.mu.Unlock()
	if oldest != nil {
		p.changed()
	}
	return oldest != nil
}

// pending returns room's pending lines.
func (p *pendingStore) pending(room string) []ChatLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines[room])
}

// typing records that user is typing in room, and redraws when that
// expires.
func (p *pendingStore) typing(room, user, name string, now time.Time) {
	p.mu.Lock()
	if p.typists[room] == nil {
		p.typists[room] = make(map[string]typist)
	}
	p.typists[room][user] = typist{name: orDefault(name, user), until: now.Add(typingShown)}
	p.mu.Unlock()
	p.changed()
	time.AfterFunc(typingShown+100*time.Millisecond, p.changed)
}

// stopped forgets that user is typing in room (their message arrived).
func (p *pendingStore) stopped(room, user string) {
	p.mu.Lock()
	_, ok := p.typists[room][user]
	delete(p.typists[room], user)
	p.mu.Unlock()
	if ok {
		p.changed()
	}
}

// typingNames returns the names of those typing in room at now, sorted.
func (p *pendingStore) typingNames(room string, now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for _, t := range p.typists[room] {
		if now.Before(t.until) {
			names = append(names, t.name)
		}
	}
	slices.Sort(names)
	return names
}

// typingDue reports whether this app may tell room it is typing at now (at
// most once every typingEvery), and records it if so.
func (p *pendingStore) typingDue(room string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.sentAt[room]; ok && now.Sub(last) < typingEvery {
		return false
	}
	p.sentAt[room] = now
	return true
}

// typingText is what the chat says about who is typing.
func typingText(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0] + " is typing…"
	case 2:
		return names[0] + " and " + names[1] + " are typing…"
	}
	return strconv.Itoa(len(names)) + " people are typing…"
}

// SendChat gives a chat line to the client's outbox and shows it as
// pending; it returns why it could not ("" when queued). It does not block.
func (s *Session) SendChat(room, text string) string {
	s.mu.Lock()
	cl, nick, user := s.cl, s.nick, s.user
	s.mu.Unlock()
	if cl == nil {
		return "You are not signed in."
	}
	if err := cl.Send(context.Background(), msg.ChatSend{Room: room, Text: text}); err != nil {
		if errors.Is(err, client.ErrOutboxFull) {
			return "Too many messages are waiting for the connection; wait until it is back."
		}
		return errorText(err)
	}
	s.pending.add(room, ChatLine{User: user, Name: nick, Text: text, Time: time.Now().UnixMilli(), Mine: true, Pending: true})
	return ""
}

// Typing tells room that the user is typing, at most every typingEvery and
// only while connected (a stale "is typing" is worse than none). It does
// not block.
func (s *Session) Typing(room string) {
	s.mu.Lock()
	cl, open := s.cl, s.state.State == client.Open
	s.mu.Unlock()
	if cl == nil || !open || room == "" || !s.pending.typingDue(room, time.Now()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = client.Request[shared.Reply](ctx, cl, msg.ChatTyping{Room: room})
	}()
}

// wire implements feature.
func (p *pendingStore) wire(l login) {
	handleMeta(l, func(m msg.ChatTyping, meta client.Meta) { p.onTyping(m, meta, l.user()) })
	handle(l, p.onServerError)
}

// onServerError shows an error the server sent outside any request.
func (p *pendingStore) onServerError(e shared.Error) {
	if p.fail(orDefault(e.Message, e.Code)) {
		return // it was the answer to a chat line of the outbox: shown there
	}
	p.toasts.show("Server error", e.Message, "error")
}

// onTyping shows that another user is typing; user is the signed-in
// user's id.
func (p *pendingStore) onTyping(m msg.ChatTyping, meta client.Meta, user string) {
	room := orDefault(meta.Room, m.Room)
	if m.User == "" || m.User == user || !p.rooms.info(room).known {
		return
	}
	p.typing(room, m.User, m.Name, time.Now())
}
