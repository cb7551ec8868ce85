package ui

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

// Session is the app's one connection to the server: the login, the
// connection's status and the client. What the pages show lives in the
// features (feature.go), each with its own store, lock and change events
// and its own handlers: rooms (which rooms are joined, and why; presence),
// chat (the chat page's messages), dice, pending (the outbox's lines and
// "… is typing"), notes (the notification log), ticker (quotes), danmaku
// (comments as they arrive) and gap filling; toasts are shown by several.
// The client's handlers update the stores on the client's goroutine;
// components read them on go-app's UI goroutine.
type Session struct {
	log *slog.Logger

	// dial creates the client for a login; tests replace it.
	dial func(client.Config) (*client.Client, error)
	// registry is the demo's message registry, built once.
	registry func() *shared.Registry
	// watchBrowser is client.WatchBrowser in the browser, a no-op elsewhere.
	watchBrowser func(ctx context.Context, c *client.Client)
	// zone is the browser's time zone, for message times.
	zone *time.Location
	// call calls the server's HTTP endpoints (/auth/): callAPI in the
	// browser; tests replace it.
	call func(ctx context.Context, method, path string, body any) apiResult
	// storage keeps the last cookie sign-in for the next page (resume.go):
	// the browser's localStorage; memory elsewhere.
	storage keyValue

	rooms    *roomStore
	chat     *chatLog
	toasts   *toastStore
	notes    *noteStore
	ticker   *tickerStore
	danmaku  *danmakuFeed
	pending  *pendingStore // chat lines in the outbox, and who is typing (outbox.go)
	features []feature     // all of the above but toasts, and dice and gap filling
	apiKey   apiKey        // the HTTP API key typed on the Admin page, in memory only
	tabs     *tabLink
	where    *whereStore // who is on which page (where.go)

	// status tells watchers that Status changed.
	status changes

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
	banned    string // why the server refuses this user's handshakes, if it does
}

// NewSession returns a session that is not logged in.
func NewSession() *Session {
	s := &Session{
		// One registry for every login: it is read-only once built, and
		// building it costs the page tens of milliseconds (LoginCard
		// builds it ahead, while the name is being typed).
		registry:     sync.OnceValue(msg.NewRegistry),
		log:          slog.Default(),
		dial:         client.New,
		watchBrowser: watchBrowser,
		zone:         localZone(),
		storage:      browserStorage(),
		call: func(ctx context.Context, method, path string, body any) apiResult {
			return callAPI(ctx, method, path, "", body)
		},
		rooms:   newRoomStore(),
		toasts:  &toastStore{},
		ticker:  newTickerStore(),
		danmaku: &danmakuFeed{},
		where:   newWhereStore(slog.Default()),
		state:   client.StateInfo{State: client.Closed},
	}
	s.pending = newPendingStore(s.rooms, s.toasts)
	s.chat = newChatLog(s.rooms, s.pending)
	s.notes = &noteStore{toasts: s.toasts}
	s.rooms.gone, s.rooms.joined = s.chat.drop, s.chat.onJoined
	// The features, listed once: each wires its own handlers (in this
	// order) on every login's client and forgets its login at logout.
	s.features = []feature{
		s.rooms, s.chat, &dice{chat: s.chat, rooms: s.rooms}, s.pending, s.notes, s.ticker, s.danmaku,
		&gapFiller{chat: s.chat, rooms: s.rooms, log: s.log}, s.where,
	}
	return s
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
	cl, err := s.dial(client.Config{URL: wsURL, Registry: s.registry(), Logger: s.log})
	if err != nil {
		cancel()
		s.log.Error("tether ui: cannot make the client", "err", err)
		s.mu.Lock()
		s.problem = err.Error()
		s.mu.Unlock()
		s.status.changed()
		return
	}
	l := login{cl: cl, ctx: ctx, mine: s.mine(cl), user: func() string { return s.Status().User }}
	cl.OnState(only(l.mine, func(st client.StateInfo) { s.onState(cl, st) }))
	for _, f := range s.features {
		f.wire(l)
	}

	done := make(chan struct{})
	s.mu.Lock()
	s.nick, s.user = nick, userID(nick)
	s.cl, s.ctx, s.stop, s.runDone = cl, ctx, cancel, done
	s.wsURL, s.expires = wsURL, expires
	s.signingIn, s.problem, s.banned = false, "", ""
	s.state = client.StateInfo{State: client.Connecting}
	s.mu.Unlock()

	go func() {
		defer close(done)
		err := cl.Run(ctx)
		var ce *client.CloseError
		var he *client.HandshakeError
		switch {
		case errors.As(err, &he) && he.Status == statusUnauthorized && !expires.IsZero() && ctx.Err() == nil:
			// The login cookie is no good any more (expired, or the server
			// restarted with another secret): the client stopped for good,
			// so sign in anew rather than wait for a probe's Reconnect.
			go s.signInAgain(ctx, cl, nick)
		case errors.As(err, &he) && he.Code == codeBanned:
			// Refused as banned (a reload or a reconnect during a ban):
			// show the server's sentence, as Relogin's check does.
			s.mu.Lock()
			mine := s.cl == cl
			if mine {
				s.banned = orDefault(he.Message, "banned")
			}
			s.mu.Unlock()
			if mine {
				s.status.changed()
			}
		case err != nil && !errors.As(err, &ce):
			s.log.Warn("tether ui: client stopped", "err", err)
		}
	}()
	// Let Run open the socket before this goroutine wakes the page: the
	// handshake then travels while go-app renders the signed-in page. In
	// the browser one thread runs every goroutine, and the render woken
	// below would otherwise run first (some 0.1–0.2 s on a small machine).
	runtime.Gosched()
	if !expires.IsZero() {
		go s.keepToken(ctx, nick, expires)
	}
	s.watchBrowser(ctx, cl)
	s.status.changed()
}

// mine returns whether cl is (still) the session's client: handlers guarded
// by it do nothing after a logout, whatever the old client still delivers.
func (s *Session) mine(cl *client.Client) func() bool {
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cl == cl
	}
}

// Relogin connects again the way the last login did, after a kick or a
// rejection. A browser never learns why a WebSocket handshake was refused,
// so it first asks the endpoint over plain HTTP: when the server says the
// user is banned (403, code "banned"), it shows that instead of connecting.
// It blocks on that request: call it from a goroutine.
func (s *Session) Relogin(ctx context.Context) {
	s.mu.Lock()
	nick, wsURL, expires := s.nick, s.wsURL, s.expires
	s.mu.Unlock()
	if nick == "" {
		return
	}
	if why := s.banCheck(ctx, wsURL); why != "" {
		s.mu.Lock()
		if s.wsURL == wsURL {
			s.banned = why
		}
		s.mu.Unlock()
		s.status.changed()
		return
	}
	s.login(nick, wsURL, expires)
}

// Ended says why the session's connection ended for good and will not come
// back by itself (a kick, a rejection, a ban), as a sentence for the pages;
// "" while it is open or coming back.
func (s *Session) Ended() string {
	st := s.Status()
	if !st.LoggedIn || st.Info.State != client.Closed {
		return ""
	}
	switch {
	case st.Banned != "":
		return "You are " + st.Banned + "."
	case st.Info.CloseCode == shared.CloseKicked:
		return "You were kicked: " + orDefault(st.Info.Reason, "by an administrator") + "."
	case st.Info.CloseCode == shared.CloseRejected:
		return "The server refused the connection: " + orDefault(st.Info.Reason, "no reason given") + "."
	}
	return "Disconnected."
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
	s.nick, s.user, s.expires, s.banned = "", "", time.Time{}, ""
	s.state = client.StateInfo{State: client.Closed}
	s.mu.Unlock()
	for _, f := range s.features {
		f.reset()
	}
	if cl == nil {
		return
	}
	stop()
	_ = cl.Close()
	s.status.changed()
}

// onState records a connection state change, and starts a probe of the
// login cookie when reconnecting keeps failing.
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
	s.mu.Unlock()
	s.status.changed()
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

// Status is the session's state as the status pill shows it.
type Status struct {
	LoggedIn  bool
	SigningIn bool   // talking to the login endpoints
	Problem   string // why signing in failed
	Nick      string
	User      string
	Banned    string // why the server refuses the user's handshakes, if it does
	Info      client.StateInfo
}

// Status returns the login and connection state.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{LoggedIn: s.cl != nil, SigningIn: s.signingIn, Problem: s.problem, Nick: s.nick, User: s.user,
		Banned: s.banned, Info: s.state}
}

// statusUnauthorized is HTTP 401, spelled out: naming net/http's constant
// would link net/http, crypto/tls and x509 into the browser bundle (0.35 MB
// brotli; demo/cmd/tether-web's TestBundleBudget fails on it).
const statusUnauthorized = 401
