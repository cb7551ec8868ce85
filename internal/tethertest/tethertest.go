// Package tethertest is test support for Tether, in the spirit of
// net/http/httptest: a real server on 127.0.0.1, raw gorilla clients that
// have done the welcome handshake, readers and waits that always have a
// deadline, and native clients connected to the server. Every package's
// tests use it, so that the scaffolding is written once.
//
// Waits poll with a deadline only where there is no event to wait on (a
// server's state); otherwise they wait on a channel.
package tethertest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest/raw"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Wait bounds every wait of this package: a busy CI machine gets there
// well within it, a hung test fails with a message instead of hanging.
const Wait = 5 * time.Second

// pollEvery is how often WaitUntil re-checks its condition.
const pollEvery = 5 * time.Millisecond

// Server is a Tether server serving HTTP on 127.0.0.1 for one test.
type Server struct {
	// Server is the Tether server.
	*server.Server
	// HTTP serves Mux.
	HTTP *httptest.Server
	// Mux routes every path to Server; a setup function may add others
	// (the HTTP API under /api/, say).
	Mux *http.ServeMux
	// Registry is the server's message registry.
	Registry *shared.Registry

	t testing.TB
}

// NewServer starts a server with cfg and shuts it down when the test ends.
// A nil cfg.Logger discards the logs; a nil cfg.Registry is
// testmsg.NewRegistry() (the system messages and the test types); a nil
// cfg.Authenticate is server.InsecureQueryIdentity (?user=, the tests'
// identity). Each setup function runs before the server accepts
// a connection (registering handlers, adding routes); cleanups it registers
// run before the server shuts down.
func NewServer(t testing.TB, cfg server.Config, setup ...func(*Server)) *Server {
	t.Helper()
	s := NewUnstartedServer(t, cfg)
	t.Cleanup(func() { s.Close() })
	for _, f := range setup {
		f(s)
	}
	s.HTTP.Start()
	return s
}

// WithChat is a NewServer setup that installs chat handlers for the
// types of internal/testmsg, the way an app would: chat.send publishes a
// chat.message (User and Name from the connection, Time now), chat.typing
// goes to the room as an ephemeral message; each refuses a room the
// sender has not joined (not_joined). The kit's tests use it instead of the
// demo's handlers.
func WithChat() func(*Server) {
	return func(s *Server) { InstallChat(s.Server) }
}

// Cleanup registers f with the test the server was made for; registered by
// a setup function, f runs before the server shuts down.
func (s *Server) Cleanup(f func()) { s.t.Cleanup(f) }

// NewUnstartedServer is NewServer without starting HTTP and without the
// shutdown at the end: the caller may replace s.HTTP.Listener, then calls
// s.HTTP.Start, and shuts down itself (Close, or Shutdown and HTTP.Close).
func NewUnstartedServer(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = testmsg.NewRegistry()
	}
	if cfg.Authenticate == nil {
		cfg.Authenticate = server.InsecureQueryIdentity // the tests' identity: ?user=
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("tethertest: %v", err)
	}
	s := &Server{Server: srv, Mux: http.NewServeMux(), Registry: cfg.Registry, t: t}
	s.Mux.Handle("/", s.Server)
	s.HTTP = httptest.NewUnstartedServer(s.Mux)
	return s
}

// Close shuts the server down within Wait, failing the test on an error,
// and closes its HTTP listener.
func (s *Server) Close() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.t.Errorf("tethertest: Shutdown: %v", err)
	}
	s.HTTP.Close()
}

// URL is the server's WebSocket URL for user (the development login's
// ?user= and ?name=, the name capitalised); "" is no user at all.
func (s *Server) URL(user string) string {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
		q.Set("name", strings.ToUpper(user[:1])+user[1:])
	}
	return "ws" + strings.TrimPrefix(s.HTTP.URL, "http") + "/ws?" + q.Encode()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.HTTP.Listener.Addr().String() }

// Dial connects a raw client as user, reads its welcome and closes the
// connection when the test ends.
func (s *Server) Dial(t testing.TB, user string) (*websocket.Conn, shared.Welcome) {
	t.Helper()
	return Dial(t, s.URL(user))
}

// Dial connects a raw client to rawURL, reads its welcome within Wait and
// closes the connection when the test ends. While read, the connection
// answers pings (raw.AnswerPings).
func Dial(t testing.TB, rawURL string) (*websocket.Conn, shared.Welcome) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: Wait}
	ws, resp, err := d.Dial(rawURL, nil)
	if err != nil {
		t.Fatalf("tethertest: dial %s: %v", rawURL, raw.HandshakeError(resp, err))
	}
	t.Cleanup(func() { _ = ws.Close() })
	raw.AnswerPings(ws)
	_ = ws.SetReadDeadline(time.Now().Add(Wait))
	w, err := raw.ReadWelcome(ws)
	if err != nil {
		t.Fatalf("tethertest: %s: %v", rawURL, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, w
}

// Join joins room (no history) on a raw connection and waits, within Wait,
// for joined.
func Join(t testing.TB, ws *websocket.Conn, room string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(Wait))
	if err := raw.Join(ws, room); err != nil {
		t.Fatalf("tethertest: %v", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
}

// ReadType reads frames from ws until one of type typ and returns its
// envelope, failing the test when none comes within Wait.
func ReadType(t testing.TB, ws *websocket.Conn, typ string) shared.Envelope {
	t.Helper()
	if err := ws.SetReadDeadline(time.Now().Add(Wait)); err != nil {
		t.Fatalf("tethertest: set read deadline: %v", err)
	}
	env, err := raw.ReadType(ws, typ)
	if err != nil {
		t.Fatalf("tethertest: %v", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return env
}

// WaitUntil re-checks cond until it holds and fails the test, naming what
// it waited for, when it does not within Wait. It is for state that has no
// event to wait on; prefer Receive where there is one.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Poll(t, what, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
}

// Poll is WaitUntil for a check that says what is still wrong: it re-checks
// until check returns nil and fails the test with the last error when that
// does not happen within Wait.
func Poll(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tethertest: timed out after %v waiting until %s: %v", Wait, what, err)
		}
		time.Sleep(pollEvery)
	}
}

// Receive returns the next value from ch, failing the test, naming what it
// waited for, when none comes within Wait or ch is closed.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("tethertest: closed while waiting for %s", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("tethertest: timed out after %v waiting for %s", Wait, what)
	}
	panic("unreachable")
}

// NewClient is client.New that fails the test on an error. A nil
// cfg.Registry is testmsg.NewRegistry(), as for NewServer.
func NewClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = testmsg.NewRegistry()
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("tethertest: %v", err)
	}
	return c
}

// Client makes a native client for user with cfg (URL set to the
// server's; a nil Registry is the server's), runs it until the test ends and waits for it to be open.
func (s *Server) Client(t testing.TB, user string, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL = s.URL(user)
	if cfg.Registry == nil {
		cfg.Registry = s.Registry
	}
	c := NewClient(t, cfg)
	Run(t, c)
	return c
}

// Run runs c until the test ends and waits, within Wait, for its first
// Open. Handlers set with On before Run see every message.
func Run(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	open := make(chan struct{})
	var once sync.Once
	c.OnState(func(si client.StateInfo) {
		if si.State == client.Open {
			once.Do(func() { close(open) })
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-open:
	case <-time.After(Wait):
		t.Fatalf("tethertest: client did not connect within %v", Wait)
	}
}
