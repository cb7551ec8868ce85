package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
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
	upgrader websocket.Upgrader
	now      func() time.Time // the clock of history and presence; tests replace it

	ctx    context.Context    // parent of every connection's context
	cancel context.CancelFunc // cancels ctx, at the end of Shutdown

	wg        sync.WaitGroup // every goroutine the server started
	stopSweep chan struct{}  // closed by Shutdown to stop the sweeper
	stopOnce  sync.Once

	hub   hub
	rooms roomTable

	handlersMu sync.RWMutex
	handlers   map[string]handlerFunc

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
	// Rooms is the number of rooms (with members or history).
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

// New returns a Server configured by cfg (see Config for the defaults). It
// starts a goroutine that forgets expired rooms; call Shutdown to stop it.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg,
		log: cfg.Logger,
		upgrader: websocket.Upgrader{
			CheckOrigin:       cfg.CheckOrigin,
			EnableCompression: false,
		},
		now:       time.Now,
		ctx:       ctx,
		cancel:    cancel,
		stopSweep: make(chan struct{}),
		hub:       newHub(),
		rooms:     roomTable{m: make(map[string]*room)},
		handlers:  make(map[string]handlerFunc),
	}
	s.wg.Add(1)
	go s.sweepLoop()
	return s
}

// ServeHTTP is the /ws endpoint: it authenticates the handshake, upgrades it
// and serves the connection until it closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := s.authenticate(r)
	if err != nil {
		s.log.Debug("handshake refused", "remote", r.RemoteAddr, "err", err)
		writeHTTPError(w, http.StatusUnauthorized, shared.CodeForbidden, err.Error())
		return
	}
	if !s.hub.begin(&s.wg) {
		writeHTTPError(w, http.StatusServiceUnavailable, shared.CodeClosed, "server is shutting down")
		return
	}
	defer s.wg.Done()
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered with an HTTP error already.
		s.log.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	s.serve(newConn(s, ws, id, r.RemoteAddr))
}

// authenticate runs Config.Authenticate and checks what it returns.
func (s *Server) authenticate(r *http.Request) (Identity, error) {
	id, err := s.cfg.Authenticate(r)
	if err != nil {
		return Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	if err := ValidUser(id.User); err != nil {
		return Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	if id.Name == "" {
		id.Name = id.User
	}
	return id, nil
}

// serve runs a connection: welcome, the two goroutines, and the clean-up.
func (s *Server) serve(c *Conn) {
	_ = c.Send(shared.Welcome{
		Conn:        c.id,
		User:        c.user,
		Name:        c.name,
		HeartbeatMS: s.cfg.Heartbeat.Milliseconds(),
		Server:      Version,
	})
	registered := s.hub.add(c)
	if !registered {
		c.startClose(closeRequest{code: shared.CloseGoingAway, reason: "going away", send: true, flush: true})
	}
	s.log.Debug("connected", "conn", c.id, "user", c.user, "remote", c.remote)
	go c.writeLoop()
	c.readLoop()
	<-c.writerDone

	if registered {
		s.hub.remove(c)
	}
	s.leaveAll(c)
	req, _ := c.closeState()
	s.log.Debug("disconnected", "conn", c.id, "user", c.user, "code", req.code, "why", closeCodeText(req.code), "reason", req.reason)
	if s.cfg.OnDisconnect != nil {
		s.cfg.OnDisconnect(c, req.code, req.reason)
	}
}

// Shutdown stops accepting connections, closes every connection with 1001
// "going away" (after what is already queued to it) and waits until every
// goroutine of the server has returned, or ctx is done: then it closes the
// remaining sockets at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.hub.shutdown()
	s.stopOnce.Do(func() { close(s.stopSweep) })
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
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		for _, c := range conns {
			_ = c.ws.Close()
		}
		return fmt.Errorf("shutdown: %w", ctx.Err())
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	conns, users := s.hub.counts()
	return Stats{
		Connections: conns,
		Users:       users,
		Rooms:       s.rooms.len(),
		MessagesIn:  s.stats.messagesIn.Load(),
		MessagesOut: s.stats.messagesOut.Load(),
		Dropped:     s.stats.dropped.Load(),
	}
}

// sweepLoop forgets, now and then, the rooms that have no members and whose
// history has expired, until Shutdown.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	every := time.Minute
	if ttl := s.cfg.HistoryTTL; ttl > 0 {
		every = min(max(ttl/2, time.Second), time.Minute)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

func (s *Server) onPing(c *Conn) {
	if s.cfg.OnPing != nil {
		s.cfg.OnPing(c)
	}
}

func (s *Server) onPong(c *Conn) {
	if s.cfg.OnPong != nil {
		s.cfg.OnPong(c)
	}
}

func (s *Server) onError(c *Conn, err error) {
	s.log.Debug("connection error", "conn", c.id, "user", c.user, "err", err)
	if s.cfg.OnError != nil {
		s.cfg.OnError(c, err)
	}
}

// writeHTTPError answers a refused handshake with a JSON error.
func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(shared.Error{Code: code, Message: msg})
}
