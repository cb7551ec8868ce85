package ui

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// Limits of what a Session keeps.
const (
	historyOnJoin    = 50               // chat messages asked for when joining a room
	maxChatLines     = 200              // per room
	maxToasts        = 5                // visible at once
	maxNotifications = 100              // in the log
	maxSpark         = 40               // prices kept per ticker symbol
	toastLife        = 6 * time.Second  // before a toast goes away by itself
	errorToastLife   = 10 * time.Second // error toasts stay longer
)

// DefaultRooms are the chat rooms always listed.
func DefaultRooms() []string { return []string{"lobby", "go", "random"} }

// purpose is why a room is joined. A room is left when its last purpose goes.
type purpose int

const (
	forChat    purpose = iota // listed in the chat page's rooms
	forTicker                 // the ticker page is open
	forDanmaku                // the danmaku page is open
)

// topic names what changed in a Session; components watch the topics they
// render.
type topic int

const (
	topicState         topic = iota // login and connection state
	topicChat                       // rooms, messages, members, chat errors
	topicToasts                     // toasts shown or dismissed
	topicNotifications              // the notification log
	topicDanmaku                    // a comment arrived; the payload is the shared.DanmakuComment
)

// tickerFrame coalesces ticker updates: however fast quotes arrive, the
// ticker table re-renders at most this often. Quotes have no topic: the
// ticker page polls tickerVersion once per frame.
const tickerFrame = 100 * time.Millisecond

// Session is the app's one connection to the server and everything the
// pages show about it. It is safe for concurrent use: the client's handlers
// update it on the client's goroutine, components read it on go-app's UI
// goroutine.
type Session struct {
	log *slog.Logger

	// dial creates the client for a login; tests replace it.
	dial func(opts client.Options) *client.Client
	// watchBrowser is client.WatchBrowser in the browser, a no-op elsewhere.
	watchBrowser func(ctx context.Context, c *client.Client)
	// zone is the browser's time zone, for message times.
	zone *time.Location
	// call calls the server's HTTP endpoints (/auth/): callAPI in the
	// browser; tests replace it.
	call func(ctx context.Context, method, path string, body any) apiResult

	mu        sync.Mutex
	nick      string
	user      string
	cl        *client.Client
	ctx       context.Context // the current login's; done at logout
	stop      context.CancelFunc
	runDone   chan struct{} // closed when the current client's Run returns
	wsURL     string
	expires   time.Time // of the login cookie; zero: not signed in with one
	signingIn bool      // SignIn is talking to /auth/
	problem   string    // why the last SignIn failed
	probing   bool      // probe is running
	probedAt  time.Time
	state     client.StateInfo
	rooms     map[string]*room
	custom    []string // chat rooms the user created, in creation order
	current   string   // chat room on screen
	toasts    []Toast
	nextToast int
	notes     []Note
	quotes    map[string]*Quote
	symbols   []string
	tickerVer uint64
	watchers  map[int]watcher
	nextWatch int
}

// watcher is a component's interest in a topic.
type watcher struct {
	topic topic
	fn    func(payload any)
}

// room is what the session knows about one room.
type room struct {
	purposes map[purpose]bool
	joining  bool   // a Join request is in flight
	joined   bool   // a joined reply arrived on the current connection
	failed   string // why the last join failed, if it did
	epoch    string
	lines    []ChatLine
	members  []shared.Member
	notice   string // e.g. messages may have been missed
	unread   int
}

// ChatLine is one chat message as shown.
type ChatLine struct {
	Seq  uint64
	User string
	Name string
	Text string
	Time int64 // Unix ms
	Mine bool
}

// Toast is a notification on screen.
type Toast struct {
	ID    int
	Title string
	Body  string
	Level string // info, success, warning, error
	Life  time.Duration
}

// Note is a received notification in the log.
type Note struct {
	shared.Notification
	At time.Time
}

// Quote is the latest state of one ticker symbol.
type Quote struct {
	Symbol  string
	Price   float64
	Change  float64
	Dir     int    // +1 up, -1 down, 0 unchanged since the previous quote
	Updates uint64 // quotes received; its parity restarts the flash animation
	Time    int64
	Spark   []float64
}

// NewSession returns a session that is not logged in.
func NewSession() *Session {
	return &Session{
		log:          slog.Default(),
		dial:         client.New,
		watchBrowser: watchBrowser,
		zone:         localZone(),
		call: func(ctx context.Context, method, path string, body any) apiResult {
			return callAPI(ctx, method, path, "", body)
		},
		rooms:    make(map[string]*room),
		quotes:   make(map[string]*Quote),
		watchers: make(map[int]watcher),
		current:  "lobby",
		state:    client.StateInfo{State: client.Closed},
	}
}

// watch calls fn whenever t changes, until the returned stop is called. fn
// runs on whatever goroutine made the change and must not block; components
// pass a function that calls Context.Dispatch.
func (s *Session) watch(t topic, fn func(payload any)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextWatch
	s.nextWatch++
	s.watchers[id] = watcher{topic: t, fn: fn}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.watchers, id)
	}
}

// notify calls the watchers of t. It must be called without s.mu held.
func (s *Session) notify(t topic, payload any) {
	s.mu.Lock()
	var fns []func(any)
	for _, w := range s.watchers {
		if w.topic == t {
			fns = append(fns, w.fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
}

// Login connects as nick through the WebSocket at wsURL, whose query names
// the user (the ?user=&name= placeholder of docs/protocol.md §1), and joins
// the lobby plus every room a page is waiting for. A previous login is ended
// first. Browsers normally use SignIn, which gets a login cookie first.
func (s *Session) Login(nick, wsURL string) {
	s.login(nick, wsURL, time.Time{})
}

// login connects. A non-zero expires means the connection is authenticated
// by the login cookie, valid until then: it is kept fresh (see keepToken).
func (s *Session) login(nick, wsURL string, expires time.Time) {
	s.Logout()
	ctx, cancel := context.WithCancel(context.Background())
	cl := s.dial(client.Options{URL: wsURL, Logger: s.log})
	s.wire(cl)

	done := make(chan struct{})
	s.mu.Lock()
	s.nick, s.user = nick, userID(nick)
	s.cl, s.ctx, s.stop, s.runDone = cl, ctx, cancel, done
	s.wsURL, s.expires = wsURL, expires
	s.signingIn, s.problem = false, ""
	s.state = client.StateInfo{State: client.Connecting}
	s.roomLocked("lobby").purposes[forChat] = true
	var rooms []string
	for name, r := range s.rooms {
		if len(r.purposes) > 0 {
			r.joining = true
			rooms = append(rooms, name)
		}
	}
	s.mu.Unlock()

	go func() {
		defer close(done)
		err := cl.Run(ctx)
		var ce *client.CloseError
		if err != nil && !errors.As(err, &ce) {
			s.log.Warn("tether ui: client stopped", "err", err)
		}
	}()
	if !expires.IsZero() {
		go s.keepToken(ctx, nick, expires)
	}
	s.watchBrowser(ctx, cl)
	for _, name := range rooms {
		go s.join(ctx, cl, name)
	}
	s.notify(topicState, nil)
	s.notify(topicChat, nil)
}

// Relogin connects again the way the last login did, after a kick or a
// rejection.
func (s *Session) Relogin() {
	s.mu.Lock()
	nick, wsURL, expires := s.nick, s.wsURL, s.expires
	s.mu.Unlock()
	if nick != "" {
		s.login(nick, wsURL, expires)
	}
}

// stopped returns a channel closed once the client of the last login has
// stopped (at once when there was none). Logout does not wait for it: it
// runs on the UI goroutine.
func (s *Session) stopped() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runDone == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.runDone
}

// Logout closes the connection and forgets the chat. Pages keep their own
// rooms (ticker, danmaku) so that a later login joins them again.
func (s *Session) Logout() {
	s.mu.Lock()
	cl, stop := s.cl, s.stop
	s.cl, s.ctx, s.stop = nil, nil, nil
	s.nick, s.user, s.expires = "", "", time.Time{}
	s.state = client.StateInfo{State: client.Closed}
	for name, r := range s.rooms {
		delete(r.purposes, forChat)
		if len(r.purposes) == 0 {
			delete(s.rooms, name)
			continue
		}
		*r = room{purposes: r.purposes}
	}
	s.custom = nil
	s.current = "lobby"
	s.mu.Unlock()
	if cl == nil {
		return
	}
	stop()
	_ = cl.Close()
	s.notify(topicState, nil)
	s.notify(topicChat, nil)
}

// wire registers the session's handlers on a new client. Handlers of a
// client that is no longer the session's (after a logout) do nothing.
func (s *Session) wire(cl *client.Client) {
	mine := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cl == cl
	}
	cl.OnState(func(st client.StateInfo) {
		if mine() {
			s.onState(cl, st)
		}
	})
	cl.OnJoined(func(j shared.Joined) {
		if mine() {
			s.onJoined(j)
		}
	})
	client.OnMeta(cl, func(m shared.ChatMessage, meta client.Meta) {
		if mine() {
			s.onChat(m, meta)
		}
	})
	client.OnMeta(cl, func(m shared.DiceRolled, meta client.Meta) {
		if mine() {
			s.onDice(m, meta)
		}
	})
	client.On(cl, func(m shared.PresenceJoin) {
		if mine() {
			s.onPresence(m.Room, m.Member, true)
		}
	})
	client.On(cl, func(m shared.PresenceLeave) {
		if mine() {
			s.onPresence(m.Room, m.Member, false)
		}
	})
	client.On(cl, func(m shared.Notification) {
		if mine() {
			s.onNotification(m)
		}
	})
	client.On(cl, func(m shared.TickerQuote) {
		if mine() {
			s.onQuote(m)
		}
	})
	client.On(cl, func(m shared.DanmakuComment) {
		if mine() {
			s.onDanmaku(m)
		}
	})
	client.On(cl, func(m shared.Error) {
		if mine() {
			s.onServerError(m)
		}
	})
}

// onState records a connection state change. On a new connection it retries
// the joins that failed while there was none (the client itself rejoins the
// rooms it had joined).
func (s *Session) onState(cl *client.Client, st client.StateInfo) {
	s.mu.Lock()
	s.state = st
	if st.State == client.Open && st.Welcome.User != "" {
		s.user = st.Welcome.User // with a login cookie, the server picked it
	}
	probe := st.State == client.Reconnecting && !s.expires.IsZero() && !s.probing &&
		s.cl == cl && s.ctx != nil && time.Since(s.probedAt) > probeEvery
	if probe {
		s.probing = true
		go s.probe(s.ctx, cl, s.nick)
	}
	var retry []string
	if st.State == client.Open {
		for name, r := range s.rooms {
			if r.failed != "" && !r.joining && len(r.purposes) > 0 {
				r.joining, r.failed = true, ""
				retry = append(retry, name)
			}
		}
	}
	if st.State != client.Open {
		for _, r := range s.rooms {
			r.joined = false
		}
	}
	s.mu.Unlock()
	for _, name := range retry {
		go s.join(context.Background(), cl, name)
	}
	s.notify(topicState, nil)
	s.notify(topicChat, nil)
}

// join joins name on cl; r.joining was set by the caller.
func (s *Session) join(ctx context.Context, cl *client.Client, name string) {
	_, err := cl.Join(ctx, name, historyOnJoin)
	s.mu.Lock()
	r := s.rooms[name]
	leave := err == nil // unless a page still wants the room
	if r != nil && s.cl == cl {
		r.joining = false
		if err != nil {
			r.failed = errorText(err)
		}
		if len(r.purposes) > 0 {
			leave = false
		} else {
			delete(s.rooms, name)
		}
	}
	s.mu.Unlock()
	if leave { // every page that wanted it went away meanwhile
		_ = cl.Leave(ctx, name)
	}
	s.notify(topicChat, nil)
}

// roomLocked returns the room called name, creating it. s.mu must be held.
func (s *Session) roomLocked(name string) *room {
	r := s.rooms[name]
	if r == nil {
		r = &room{purposes: make(map[purpose]bool)}
		s.rooms[name] = r
	}
	return r
}

// acquire makes the session stay in room for p, joining it when it is the
// first reason and the session is logged in.
func (s *Session) acquire(name string, p purpose) {
	s.mu.Lock()
	r := s.roomLocked(name)
	first := len(r.purposes) == 0
	r.purposes[p] = true
	cl := s.cl
	start := first && cl != nil && !r.joining
	if start {
		r.joining, r.failed = true, ""
	}
	s.mu.Unlock()
	if start {
		go s.join(context.Background(), cl, name)
	}
	s.notify(topicChat, nil)
}

// release drops reason p for room, leaving it when no reason is left.
func (s *Session) release(name string, p purpose) {
	s.mu.Lock()
	r := s.rooms[name]
	if r == nil {
		s.mu.Unlock()
		return
	}
	delete(r.purposes, p)
	cl := s.cl
	// While a join is in flight, join itself leaves when it completes.
	gone := len(r.purposes) == 0 && !r.joining
	if gone {
		delete(s.rooms, name)
	}
	s.mu.Unlock()
	if gone && cl != nil {
		go func() { _ = cl.Leave(context.Background(), name) }()
	}
	s.notify(topicChat, nil)
}

// onJoined applies a joined reply: members, and whether the messages on
// screen still hold.
func (s *Session) onJoined(j shared.Joined) {
	s.mu.Lock()
	r := s.rooms[j.Room]
	if r == nil {
		s.mu.Unlock()
		return
	}
	switch {
	case r.joining: // a fresh join: the history follows
		r.lines, r.notice = nil, ""
	case j.Epoch != r.epoch:
		r.lines = nil
		r.notice = "The room was restarted on the server; showing its recent history."
	case !j.Recovered:
		r.notice = "Reconnected — some messages may have been missed."
	default:
		r.notice = ""
	}
	r.epoch = j.Epoch
	r.joined = true
	r.failed = ""
	r.members = slices.Clone(j.Members)
	sortMembers(r.members)
	s.mu.Unlock()
	s.notify(topicChat, nil)
}

// onChat appends a chat message to its room.
func (s *Session) onChat(m shared.ChatMessage, meta client.Meta) {
	name := meta.Room
	if name == "" {
		name = m.Room
	}
	s.mu.Lock()
	r := s.rooms[name]
	if r == nil {
		s.mu.Unlock()
		return
	}
	r.lines = append(r.lines, ChatLine{Seq: meta.Seq, User: m.User, Name: m.Name, Text: m.Text, Time: m.Time, Mine: m.User == s.user})
	if n := len(r.lines); n > maxChatLines {
		r.lines = slices.Clone(r.lines[n-maxChatLines:])
	}
	if name != s.current && r.purposes[forChat] {
		r.unread++
	}
	s.mu.Unlock()
	s.notify(topicChat, nil)
}

// onPresence adds or removes a member of a room.
func (s *Session) onPresence(name string, m shared.Member, arrived bool) {
	s.mu.Lock()
	r := s.rooms[name]
	if r == nil {
		s.mu.Unlock()
		return
	}
	i := slices.IndexFunc(r.members, func(x shared.Member) bool { return x.User == m.User })
	switch {
	case arrived && i < 0:
		r.members = append(r.members, m)
		sortMembers(r.members)
	case arrived:
		r.members[i] = m
	case i >= 0:
		r.members = slices.Delete(r.members, i, i+1)
	}
	s.mu.Unlock()
	s.notify(topicChat, nil)
}

// onNotification logs a notification and shows it as a toast.
func (s *Session) onNotification(n shared.Notification) {
	if n.Level == "" {
		n.Level = "info"
	}
	s.mu.Lock()
	s.notes = append(s.notes, Note{Notification: n, At: time.Now()})
	if len(s.notes) > maxNotifications {
		s.notes = slices.Clone(s.notes[len(s.notes)-maxNotifications:])
	}
	s.mu.Unlock()
	s.toast(n.Title, n.Body, n.Level)
	s.notify(topicNotifications, nil)
}

// toast shows a toast that goes away by itself.
func (s *Session) toast(title, body, level string) {
	life := toastLife
	if level == "error" {
		life = errorToastLife
	}
	s.mu.Lock()
	s.nextToast++
	id := s.nextToast
	s.toasts = append(s.toasts, Toast{ID: id, Title: title, Body: body, Level: level, Life: life})
	if len(s.toasts) > maxToasts {
		s.toasts = slices.Clone(s.toasts[len(s.toasts)-maxToasts:])
	}
	s.mu.Unlock()
	time.AfterFunc(life, func() { s.DismissToast(id) })
	s.notify(topicToasts, nil)
}

// DismissToast removes toast id from the screen.
func (s *Session) DismissToast(id int) {
	s.mu.Lock()
	n := len(s.toasts)
	s.toasts = slices.DeleteFunc(s.toasts, func(t Toast) bool { return t.ID == id })
	changed := len(s.toasts) != n
	s.mu.Unlock()
	if changed {
		s.notify(topicToasts, nil)
	}
}

// onQuote records a ticker quote.
func (s *Session) onQuote(q shared.TickerQuote) {
	s.mu.Lock()
	cur := s.quotes[q.Symbol]
	if cur == nil {
		cur = &Quote{Symbol: q.Symbol}
		s.quotes[q.Symbol] = cur
		s.symbols = append(s.symbols, q.Symbol)
	}
	switch {
	case cur.Updates == 0 || q.Price == cur.Price:
		cur.Dir = 0
	case q.Price > cur.Price:
		cur.Dir = 1
	default:
		cur.Dir = -1
	}
	cur.Price, cur.Change, cur.Time = q.Price, q.Change, q.Time
	cur.Updates++
	cur.Spark = append(cur.Spark, q.Price)
	if len(cur.Spark) > maxSpark {
		cur.Spark = slices.Clone(cur.Spark[len(cur.Spark)-maxSpark:])
	}
	s.tickerVer++
	s.mu.Unlock()
	// No notify: the ticker page polls tickerVersion once per frame, so a
	// burst of quotes costs one render.
}

// onDanmaku passes a comment to the stage.
func (s *Session) onDanmaku(c shared.DanmakuComment) {
	s.notify(topicDanmaku, c)
}

// onServerError shows an error the server sent outside any request.
func (s *Session) onServerError(e shared.Error) {
	s.toast("Server error", e.Message, "error")
}

// Send sends m as a request and returns the server's verdict as a sentence
// ("" when accepted). It blocks; call it from a goroutine.
func (s *Session) Send(ctx context.Context, m shared.Message) string {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl == nil {
		return "You are not signed in."
	}
	if _, err := client.Request[shared.Reply](ctx, cl, m); err != nil {
		return errorText(err)
	}
	return ""
}

// Reconnect asks the client to reconnect now (the status pill's button).
func (s *Session) Reconnect() {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl != nil {
		cl.Reconnect()
	}
}

// SelectRoom shows room in the chat page, joining it if needed.
func (s *Session) SelectRoom(name string) {
	s.mu.Lock()
	s.current = name
	r := s.rooms[name]
	if r != nil {
		r.unread = 0
	}
	joined := r != nil && r.purposes[forChat]
	s.mu.Unlock()
	if !joined {
		s.acquire(name, forChat)
	}
	s.notify(topicChat, nil)
}

// CreateRoom adds a room of the user's to the list and enters it.
func (s *Session) CreateRoom(name string) error {
	if err := shared.ValidRoom(name); err != nil {
		return err
	}
	s.mu.Lock()
	if !slices.Contains(DefaultRooms(), name) && !slices.Contains(s.custom, name) {
		s.custom = append(s.custom, name)
	}
	s.mu.Unlock()
	s.SelectRoom(name)
	return nil
}

// LeaveRoom leaves a chat room; the chat shows another joined room.
func (s *Session) LeaveRoom(name string) {
	s.release(name, forChat)
	s.mu.Lock()
	if s.current == name {
		s.current = ""
		for _, n := range append(DefaultRooms(), s.custom...) {
			if r := s.rooms[n]; r != nil && r.purposes[forChat] {
				s.current = n
				break
			}
		}
	}
	s.mu.Unlock()
	s.notify(topicChat, nil)
}

// Status is the session's state as the status pill shows it.
type Status struct {
	LoggedIn  bool
	SigningIn bool   // talking to the login endpoints
	Problem   string // why signing in failed
	Nick      string
	User      string
	Info      client.StateInfo
}

// Status returns the login and connection state.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{LoggedIn: s.cl != nil, SigningIn: s.signingIn, Problem: s.problem, Nick: s.nick, User: s.user, Info: s.state}
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
	Lines     []ChatLine
	Members   []shared.Member
}

// Chat returns the chat page's content.
func (s *Session) Chat() ChatView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := ChatView{Current: s.current, Connected: s.state.State == client.Open}
	for _, name := range append(DefaultRooms(), s.custom...) {
		r := s.rooms[name]
		item := RoomItem{Name: name, Current: name == s.current}
		if r != nil && r.purposes[forChat] {
			item.Joined, item.Ready, item.Unread = true, r.joined, r.unread
		}
		v.Rooms = append(v.Rooms, item)
	}
	if r := s.rooms[s.current]; r != nil && r.purposes[forChat] {
		v.Ready, v.Joining, v.Failed, v.Notice = r.joined, r.joining, r.failed, r.notice
		v.Lines = slices.Clone(r.lines)
		v.Members = slices.Clone(r.members)
	}
	return v
}

// Members returns the members of any room the session is in.
func (s *Session) Members(name string) []shared.Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[name]; r != nil {
		return slices.Clone(r.members)
	}
	return nil
}

// RoomState reports whether the session is joined to name, and the last
// join error.
func (s *Session) RoomState(name string) (ready bool, failed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[name]; r != nil {
		return r.joined, r.failed
	}
	return false, ""
}

// Toasts returns the toasts on screen, oldest first.
func (s *Session) Toasts() []Toast {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.toasts)
}

// Notes returns the notification log, newest first.
func (s *Session) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.notes)
	slices.Reverse(out)
	return out
}

// ClearNotes empties the notification log.
func (s *Session) ClearNotes() {
	s.mu.Lock()
	s.notes = nil
	s.mu.Unlock()
	s.notify(topicNotifications, nil)
}

// tickerVersion changes whenever a quote arrives.
func (s *Session) tickerVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tickerVer
}

// Quotes returns the ticker symbols in order of first appearance.
func (s *Session) Quotes() []Quote {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Quote, 0, len(s.symbols))
	for _, sym := range s.symbols {
		q := *s.quotes[sym]
		q.Spark = slices.Clone(q.Spark)
		out = append(out, q)
	}
	return out
}

// sortMembers orders members by user id, as the server does. An insertion
// sort: member lists are short and arrive sorted, and a generic sort would
// cost the wasm bundle about 15 KB.
func sortMembers(ms []shared.Member) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].User < ms[j-1].User; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// errorText turns a client error into a sentence for the user.
func errorText(err error) string {
	var se *shared.Error
	if errors.As(err, &se) {
		switch se.Code {
		case shared.CodeTimeout:
			return "No answer from the server in time."
		case shared.CodeClosed:
			return "The connection closed before the server answered."
		}
		if se.Message != "" {
			return se.Message
		}
		return se.Code
	}
	if errors.Is(err, client.ErrNotConnected) {
		return "Not connected; wait for the connection to come back."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "No answer from the server in time."
	}
	return err.Error()
}
