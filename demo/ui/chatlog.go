package ui

import (
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// maxChatLines is how many chat messages are kept per room.
const maxChatLines = 200

// DefaultRooms are the chat rooms always listed.
func DefaultRooms() []string { return []string{"lobby", "go", "random"} }

// chatLog is the chat feature: the chat page's model (the messages of each
// room, the rooms the user created, the room on screen and the unread
// counts) and its chat.message handler. Which rooms are joined is the
// roomStore's; the lines not yet echoed are the outbox's (pendingStore).
type chatLog struct {
	changes

	joins   *roomStore
	pending *pendingStore

	mu      sync.Mutex
	rooms   map[string]*chatRoom
	custom  []string // chat rooms the user created, in creation order
	current string   // chat room on screen
}

// chatRoom is what the chat shows of one room.
type chatRoom struct {
	lines  []ChatLine
	notice string // e.g. messages may have been missed
	unread int
}

// ChatLine is one chat message as shown.
type ChatLine struct {
	Seq  uint64
	User string
	Name string
	Text string
	Time int64 // Unix ms
	Mine bool
	Dice bool // a dice roll, shown with the die icon
	// Pending: given to the outbox, not yet published by the server.
	Pending bool
	// Failed is why the server refused a pending line.
	Failed string
}

func newChatLog(rooms *roomStore, pending *pendingStore) *chatLog {
	return &chatLog{joins: rooms, pending: pending, rooms: make(map[string]*chatRoom), current: "lobby"}
}

// wire implements feature.
func (l *chatLog) wire(lg login) {
	handleMeta(lg, func(m msg.ChatMessage, meta client.Meta) { l.onChat(m, meta, lg.user()) })
}

// roomLocked returns the chat data of name, creating it. l.mu must be held.
func (l *chatLog) roomLocked(name string) *chatRoom {
	r := l.rooms[name]
	if r == nil {
		r = &chatRoom{}
		l.rooms[name] = r
	}
	return r
}

// reset forgets the chat at logout.
func (l *chatLog) reset() {
	l.mu.Lock()
	clear(l.rooms)
	l.custom = nil
	l.current = "lobby"
	l.mu.Unlock()
	l.changed()
}

// drop forgets the messages of a room the app left.
func (l *chatLog) drop(name string) {
	l.mu.Lock()
	delete(l.rooms, name)
	l.mu.Unlock()
}

// onJoined applies what a joined reply means for the messages on screen.
func (l *chatLog) onJoined(name string, kind joinedKind) {
	l.mu.Lock()
	r := l.roomLocked(name)
	switch kind {
	case joinedFresh:
		r.lines, r.notice = nil, ""
	case joinedRestarted:
		r.lines = nil
		r.notice = "The room was restarted on the server; showing its recent history."
	case joinedGap:
		r.notice = "Reconnected — some messages may have been missed."
	default:
		r.notice = ""
	}
	l.mu.Unlock()
	l.changed()
}

// add appends a line to room name; listed says whether the room is in the
// user's chat rooms, whose unread count it then raises when not on screen.
func (l *chatLog) add(name string, line ChatLine, listed bool) {
	l.mu.Lock()
	r := l.roomLocked(name)
	r.lines = append(r.lines, line)
	if n := len(r.lines); n > maxChatLines {
		r.lines = slices.Clone(r.lines[n-maxChatLines:])
	}
	if name != l.current && listed {
		r.unread++
	}
	l.mu.Unlock()
	l.changed()
}

// show puts room name on screen and marks it read.
func (l *chatLog) show(name string) {
	l.mu.Lock()
	l.current = name
	if r := l.rooms[name]; r != nil {
		r.unread = 0
	}
	l.mu.Unlock()
	l.changed()
}

// addRoom adds a room the user created to the list.
func (l *chatLog) addRoom(name string) {
	l.mu.Lock()
	if !slices.Contains(DefaultRooms(), name) && !slices.Contains(l.custom, name) {
		l.custom = append(l.custom, name)
	}
	l.mu.Unlock()
}

// listed returns the rooms the chat lists, and the one on screen.
func (l *chatLog) listed() (names []string, current string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(DefaultRooms(), l.custom...), l.current
}

// room returns a copy of the chat data of name.
func (l *chatLog) room(name string) chatRoom {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[name]
	if r == nil {
		return chatRoom{}
	}
	return chatRoom{lines: slices.Clone(r.lines), notice: r.notice, unread: r.unread}
}

// onChat appends a chat message to its room, if the app is in it; user is
// the signed-in user's id.
func (l *chatLog) onChat(m msg.ChatMessage, meta client.Meta, user string) {
	name := orDefault(meta.Room, m.Room)
	info := l.joins.info(name)
	if !info.known {
		return
	}
	mine := m.User == user
	if mine {
		l.pending.confirm(name, m.Text)
	}
	l.pending.stopped(name, m.User)
	l.add(name, ChatLine{Seq: meta.Seq, User: m.User, Name: m.Name, Text: m.Text, Time: m.Time, Mine: mine}, info.forChat)
}

// SelectRoom shows room in the chat page, joining it if needed.
func (s *Session) SelectRoom(name string) {
	s.chat.show(name)
	if !s.rooms.info(name).forChat {
		s.rooms.acquire(name, forChat)
	}
}

// CreateRoom adds a room of the user's to the list and enters it.
func (s *Session) CreateRoom(name string) error {
	if err := shared.ValidRoom(name); err != nil {
		return err
	}
	s.chat.addRoom(name)
	s.SelectRoom(name)
	return nil
}

// LeaveRoom leaves a chat room; the chat shows another joined room.
func (s *Session) LeaveRoom(name string) {
	s.rooms.release(name, forChat)
	names, current := s.chat.listed()
	if current != name {
		return
	}
	next := ""
	for _, n := range names {
		if s.rooms.info(n).forChat {
			next = n
			break
		}
	}
	s.chat.show(next)
}

// RoomItem is one entry of the chat's room list.
type RoomItem struct {
	Name    string
	Joined  bool // in the user's rooms (joined or joining)
	Ready   bool // joined on the current connection
	Unread  int
	Current bool
}

// ChatView is what the chat page shows.
type ChatView struct {
	Rooms     []RoomItem
	Current   string
	Connected bool // the connection is open
	Ready     bool
	Joining   bool
	Failed    string
	Notice    string
	Lines     []ChatLine // the pending ones last
	Members   []shared.Member
	Typing    string // who else is typing, as a sentence; "" for nobody
}

// Chat returns the chat page's content.
func (s *Session) Chat() ChatView {
	names, current := s.chat.listed()
	v := ChatView{Current: current, Connected: s.Status().Info.State == client.Open}
	for _, name := range names {
		item := RoomItem{Name: name, Current: name == current}
		if r := s.rooms.info(name); r.forChat {
			item.Joined, item.Ready, item.Unread = true, r.joined, s.chat.room(name).unread
		}
		v.Rooms = append(v.Rooms, item)
	}
	if r := s.rooms.info(current); r.forChat {
		c := s.chat.room(current)
		v.Ready, v.Joining, v.Failed, v.Notice = r.joined, r.joining, r.failed, c.notice
		v.Lines, v.Members = c.lines, r.members
		v.Lines = append(v.Lines, s.pending.pending(current)...)
		v.Typing = typingText(s.pending.typingNames(current, time.Now()))
	}
	return v
}
