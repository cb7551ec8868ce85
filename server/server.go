package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/memory"
	"github.com/tetherkit/tether/shared"
)

// Version is the server name and version sent in welcome.
const Version = "tether/0.1"

// Server is a Tether WebSocket server: an http.Handler for the /ws endpoint
// plus the methods that send to its connections and rooms. Create it with
// New and stop it with Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	obs      Observer // cfg.Observer, never nil
	upgrader websocket.Upgrader
	pools    writePools       // the connections' write buffers
	reads    readPool         // the read buffers of the connections reading a frame
	poll     poller           // tells parked connections their sockets have bytes (reader.go)
	now      func() time.Time // the clock of history and presence; tests replace it

	wg sync.WaitGroup // every goroutine the server started

	hub         hub
	rooms       roomTable
	broker      broker.Broker
	closeBroker func() error // closes the broker New made (Config.Broker nil); nil otherwise
	bans        banTable     // users whose handshakes are refused (ban.go)

	handlersMu sync.RWMutex
	handlers   map[string]handlerFunc

	mapsMu sync.Mutex
	maps   map[string]*mapRoom // declared by NewMap

	stats struct {
		messagesIn, messagesOut, dropped atomic.Uint64
	}
}

// Stats are the server's counters.
type Stats struct {
	// Connections is the number of open connections.
	Connections int `json:"connections"`
	// Users is the number of distinct users connected.
	Users int `json:"users"`
	// Rooms is the number of rooms with members.
	Rooms int `json:"rooms"`
	// MessagesIn counts the data frames received.
	MessagesIn uint64 `json:"messages_in"`
	// MessagesOut counts the data frames written.
	MessagesOut uint64 `json:"messages_out"`
	// Dropped counts the frames dropped because a send queue was full.
	Dropped uint64 `json:"dropped"`
}

// ConnInfo describes one connection.
type ConnInfo struct {
	// ID is the connection id.
	ID string `json:"id"`
	// User is the user id.
	User string `json:"user"`
	// Name is the display name.
	Name string `json:"name"`
	// Remote is the client's network address.
	Remote string `json:"remote"`
	// Client is what the client said it is in hello, if it did.
	Client string `json:"client,omitempty"`
	// Rooms are the joined rooms, sorted.
	Rooms []string `json:"rooms"`
	// Since is when the connection was accepted.
	Since time.Time `json:"since"`
}

// New returns a Server configured by cfg (see Config for the defaults), or
// an error naming every field of cfg that has no meaning. Call Shutdown to
// stop it.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Observer.Types(cfg.Registry)
	s := &Server{
		cfg: cfg,
		log: cfg.Logger,
		obs: cfg.Observer,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: cfg.HandshakeTimeout,
			// ServeHTTP checks the origin itself, to answer with a JSON
			// error and to tell the Observer why.
			CheckOrigin:       func(*http.Request) bool { return true },
			EnableCompression: cfg.Compression,
			// 0: gorilla reads through the reader Hijack hands it, the
			// connection's readBuffer, held only while a frame arrives.
			ReadBufferSize: 0,
		},
		now:      time.Now,
		hub:      newHub(),
		rooms:    roomTable{m: make(map[string]*room)},
		handlers: make(map[string]handlerFunc),
		broker:   cfg.Broker,
		maps:     make(map[string]*mapRoom),
	}
	if s.broker == nil {
		mb := memory.New(memory.Config{})
		s.broker, s.closeBroker = mb, mb.Close
	}
	if cfg.Bans != nil {
		lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.loadBans(lctx)
		lcancel()
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	s.broker.Register(nodeHandler{s})
	s.upgrader.WriteBufferPool = &s.pools.frame
	s.poll.srv = s
	return s, nil
}

// connRetryAfter is the Retry-After of a handshake refused for too many
// connections: a guess at when one of them may have closed.
const connRetryAfter = 5 * time.Second

// ServeHTTP is the /ws endpoint: it authenticates the handshake, checks its
// origin and the connection limits, upgrades it and starts serving the
// connection on goroutines of its own, which end when it closes (Shutdown
// waits for them). A refused handshake gets an HTTP error with a JSON body
// (docs/protocol.md §1) and no upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	refuse := func(outcome string, status int, code, msg string) {
		s.log.Debug("handshake refused", "remote", r.RemoteAddr, "outcome", outcome, "err", msg)
		writeHTTPError(w, status, code, msg)
		s.obs.HandshakeDone(outcome, time.Since(start))
	}
	id, err := s.authenticate(r)
	if err != nil {
		refuse("unauthorized", http.StatusUnauthorized, codeUnauthorized, err.Error())
		return
	}
	if !s.checkOrigin(r) {
		refuse("forbidden_origin", http.StatusForbidden, shared.CodeForbidden,
			fmt.Sprintf("origin %q is not allowed", r.Header.Get("Origin")))
		return
	}
	if s.refuseBanned(w, id.User, refuse) {
		return
	}
	ip := s.cfg.ClientIP(r)
	switch s.hub.begin(&s.wg, id.User, ip, s.cfg.MaxConnsPerUser, s.cfg.MaxConnsPerIP) {
	case shuttingDown:
		refuse("failed", http.StatusServiceUnavailable, shared.CodeClosed, "server is shutting down")
		return
	case userFull:
		w.Header().Set("Retry-After", strconv.Itoa(int(connRetryAfter/time.Second)))
		refuse("too_many", http.StatusTooManyRequests, shared.CodeRateLimited,
			fmt.Sprintf("too many connections for user %q (at most %d)", id.User, s.cfg.MaxConnsPerUser))
		return
	case ipFull:
		w.Header().Set("Retry-After", strconv.Itoa(int(connRetryAfter/time.Second)))
		refuse("too_many", http.StatusTooManyRequests, shared.CodeRateLimited,
			fmt.Sprintf("too many connections from this address (at most %d)", s.cfg.MaxConnsPerIP))
		return
	}
	hw := &hijackWriter{ResponseWriter: w, pools: &s.pools, reads: &s.reads, slack: s.cfg.WriteTimeout / 64}
	ws, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.hub.end(id.User, ip)
		s.wg.Done()
		// The upgrader has answered with an HTTP error already.
		s.log.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		s.obs.HandshakeDone("failed", time.Since(start))
		return
	}
	s.obs.HandshakeDone("ok", time.Since(start))
	hw.bc.attach() // from now on only the connection's writer writes to the socket
	hw.rb.release()
	c := newConn(s, ws, hw.bc, hw.rb, id, r.RemoteAddr, ip)
	// The connection is served by goroutines of its own, and this handler
	// returns: net/http's goroutine, its deep stack and the buffers it held
	// for the request are freed instead of being kept for the connection's
	// lifetime. The connection holds its slots and its count in s.wg
	// (Shutdown waits for it) until finish.
	go s.serve(c)
}

// codeUnauthorized is the error code of a handshake refused with HTTP 401,
// as in the HTTP API (docs/api.md).
const codeUnauthorized = "unauthorized"

// authenticate runs Config.Authenticate and checks what it returns.
func (s *Server) authenticate(r *http.Request) (Identity, error) {
	id, err := s.cfg.Authenticate(r)
	if err != nil {
		return Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	if err := ValidUser(id.User); err != nil {
		return Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	if !id.Expires.IsZero() && !time.Now().Before(id.Expires) {
		return Identity{}, fmt.Errorf("authenticate %q: token expired", id.User)
	}
	if id.Name == "" {
		id.Name = id.User
	}
	return id, nil
}

// checkOrigin runs Config.CheckOrigin; without one, a handshake with an
// Origin header must come from the request's own host (as gorilla's
// default check).
func (s *Server) checkOrigin(r *http.Request) bool {
	if s.cfg.CheckOrigin != nil {
		return s.cfg.CheckOrigin(r)
	}
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	u, err := url.Parse(origin[0])
	if err != nil {
		return false
	}
	if equalASCIIFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range s.cfg.AllowedOrigins {
		if equalASCIIFold(strings.TrimSuffix(allowed, "/"), u.Scheme+"://"+u.Host) {
			return true
		}
	}
	return false
}

// equalASCIIFold reports whether s and t are equal, ASCII letters compared
// without case (host names; a Unicode fold would match look-alikes).
func equalASCIIFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// serve starts a connection: welcome, registration, the writer and the
// reader. It returns when the reader has ended, or at once when the poller
// watches the connection; finish cleans up when the reader and the writer
// have both ended.
func (s *Server) serve(c *Conn) {
	_ = c.Send(shared.Welcome{
		Conn:        c.id,
		User:        c.user,
		Name:        c.name,
		HeartbeatMS: s.cfg.Heartbeat.Milliseconds(),
		Server:      Version,
		ExpiresMS:   unixMS(c.Expires()),
		AppPingMS:   max(s.cfg.AppPing.Milliseconds(), 0),
	})
	// Welcome is queued first, so that it is the first message; the writer
	// is held until the connection is registered, so that whoever reads
	// welcome can be kicked or sent to at once.
	c.registered = s.hub.add(c)
	if !c.registered {
		c.startClose(closeRequest{code: shared.CloseGoingAway, reason: "going away", send: true, flush: true})
	}
	s.log.Debug("connected", "conn", c.id, "user", c.user, "remote", c.remote)
	c.q.release() // start the writer: welcome is queued
	c.startReading()
}

// ended counts the end of the connection's reader or writer; the second
// finishes the connection.
func (c *Conn) ended() {
	if c.ends.Add(1) == 2 {
		c.srv.finish(c)
	}
}

// finish forgets an ended connection, tells the hooks, and gives back its
// slots and its count in s.wg. It runs on whichever of the reader and the
// writer ended last.
func (s *Server) finish(c *Conn) {
	if c.registered {
		s.hub.remove(c)
	}
	s.leaveAll(c)
	s.unsubscribeMaps(c)
	req, _ := c.closeState()
	s.obs.ConnClosed(req.code)
	s.log.Debug("disconnected", "conn", c.id, "user", c.user, "code", req.code, "why", closeCodeText(req.code), "reason", req.reason)
	if s.cfg.OnDisconnect != nil {
		s.cfg.OnDisconnect(DisconnectEvent{Conn: c, Code: req.code, Reason: req.reason})
	}
	s.hub.end(c.user, c.ip)
	s.wg.Done()
}

// Shutdown stops accepting connections, closes every connection with 1001
// "going away" (after what is already queued to it) and waits until every
// goroutine of the server has returned, or ctx is done: then it closes the
// remaining sockets at once and returns ctx's error. It closes the broker
// New made when Config.Broker was nil, not one it was given.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.hub.shutdown()
	defer s.closeOwnBroker()
	for _, c := range conns {
		c.startClose(closeRequest{code: shared.CloseGoingAway, reason: "going away", send: true, flush: true})
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.closeMaps()
		return nil
	case <-ctx.Done():
		s.closeMaps()
		for _, c := range conns {
			c.closeSocket()
		}
		return fmt.Errorf("shutdown: %w", ctx.Err())
	}
}

// closeOwnBroker closes the broker New made, once.
func (s *Server) closeOwnBroker() {
	if s.closeBroker == nil {
		return
	}
	if err := s.closeBroker(); err != nil {
		s.log.Warn("closing the memory broker", "err", err)
	}
}

func (s *Server) onPing(c *Conn) {
	if s.cfg.OnPing != nil {
		s.cfg.OnPing(PingEvent{Conn: c})
	}
}

func (s *Server) onPong(c *Conn) {
	if s.cfg.OnPong != nil {
		s.cfg.OnPong(PongEvent{Conn: c})
	}
}

func (s *Server) onError(c *Conn, err error) {
	s.log.Debug("connection error", "conn", c.id, "user", c.user, "err", err)
	if s.cfg.OnError != nil {
		s.cfg.OnError(ErrorEvent{Conn: c, Err: err})
	}
}

// writeHTTPError answers a refused handshake with a JSON error.
func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(shared.Error{Code: code, Message: msg})
}

// Registry returns the server's message registry: Config.Registry, or
// shared.NewRegistry() when that was nil. The HTTP API (server/api) reads
// it here, so that the types it accepts are always the server's.
func (s *Server) Registry() *shared.Registry { return s.cfg.Registry }
