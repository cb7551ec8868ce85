package client

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// waitLimit bounds every wait for an event in these tests.
const waitLimit = 5 * time.Second

// fakeTransport is an in-memory Transport. Every Dial creates a fakePeer, the
// server's end of the connection, which the test picks up with accept and
// drives by hand: it speaks the protocol through channels.
type fakeTransport struct {
	peers chan *fakePeer

	mu     sync.Mutex
	refuse error // when set, Dial fails with it
	dials  int
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{peers: make(chan *fakePeer, 16)}
}

func (ft *fakeTransport) Dial(ctx context.Context, url string) (Socket, error) {
	ft.mu.Lock()
	ft.dials++
	err := ft.refuse
	ft.mu.Unlock()
	if err != nil {
		return nil, err
	}
	p := &fakePeer{
		toClient:     make(chan fakeEvent, 256),
		fromClient:   make(chan []byte, 256),
		clientClosed: make(chan struct{}),
	}
	select {
	case ft.peers <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &fakeSocket{p: p}, nil
}

func (ft *fakeTransport) setRefuse(err error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.refuse = err
}

func (ft *fakeTransport) dialCount() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.dials
}

// accept returns the server end of the client's next connection.
func (ft *fakeTransport) accept(t *testing.T) *fakePeer {
	t.Helper()
	select {
	case p := <-ft.peers:
		return p
	case <-time.After(waitLimit):
		t.Fatalf("the client did not dial within %s", waitLimit)
		return nil
	}
}

// fakeEvent is what the server end puts on the wire: a frame, or the end of
// the connection (err).
type fakeEvent struct {
	frame []byte
	err   error
}

// fakePeer is the server's end of a fake connection.
type fakePeer struct {
	toClient   chan fakeEvent
	fromClient chan []byte

	closeOnce    sync.Once
	clientClosed chan struct{} // closed when the client closes its socket
	closeCode    int
	closeReason  string
}

// push sends m to the client in env (env's Type and Data are replaced).
func (p *fakePeer) push(t *testing.T, env shared.Envelope, m shared.Message) {
	t.Helper()
	frame, err := shared.Encode(env, m)
	if err != nil {
		t.Fatalf("encode %T: %v", m, err)
	}
	p.pushRaw(t, frame)
}

func (p *fakePeer) pushRaw(t *testing.T, frame []byte) {
	t.Helper()
	select {
	case p.toClient <- fakeEvent{frame: frame}:
	case <-time.After(waitLimit):
		t.Fatal("fake server: client does not read")
	}
}

// welcome greets the client; hbMS is the advertised heartbeat.
func (p *fakePeer) welcome(t *testing.T, hbMS int64) {
	t.Helper()
	p.push(t, shared.Envelope{}, shared.Welcome{Conn: "c1", User: "alice", Name: "Alice", HeartbeatMS: hbMS, Server: "fake"})
}

// reply answers the request req with m.
func (p *fakePeer) reply(t *testing.T, req shared.Envelope, m shared.Message) {
	t.Helper()
	p.push(t, shared.Envelope{ID: req.ID}, m)
}

// closeWith closes the connection from the server side with a close frame.
func (p *fakePeer) closeWith(code int, reason string) {
	p.toClient <- fakeEvent{err: &CloseError{Code: code, Reason: reason}}
}

// drop ends the connection abruptly, as a lost TCP connection would.
func (p *fakePeer) drop() {
	p.toClient <- fakeEvent{err: &CloseError{Code: 1006, Reason: "fake: connection reset"}}
}

// recv returns the next frame the client sent. Pings are skipped unless typ
// is "ping"; when typ is not empty the frame must be of that type.
func (p *fakePeer) recv(t *testing.T, typ string) shared.Envelope {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case frame := <-p.fromClient:
			env, err := shared.DecodeEnvelope(frame)
			if err != nil {
				t.Fatalf("client sent a malformed frame %s: %v", frame, err)
			}
			if env.Type == "ping" && typ != "ping" {
				continue
			}
			if typ != "" && env.Type != typ {
				t.Fatalf("client sent %s, want %s", frame, typ)
			}
			return env
		case <-deadline:
			t.Fatalf("client sent no %q within %s", typ, waitLimit)
			return shared.Envelope{}
		}
	}
}

// waitClosed waits until the client closes its socket and returns the code.
func (p *fakePeer) waitClosed(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.clientClosed:
		return p.closeCode, p.closeReason
	case <-time.After(waitLimit):
		t.Fatalf("client did not close the connection within %s", waitLimit)
		return 0, ""
	}
}

// isClosed reports whether the client closed its socket.
func (p *fakePeer) isClosed() bool {
	select {
	case <-p.clientClosed:
		return true
	default:
		return false
	}
}

// fakeSocket is the client's end of a fake connection.
type fakeSocket struct {
	p       *fakePeer
	readErr error // sticky once the connection ended; read goroutine only
}

func (s *fakeSocket) Read(ctx context.Context) ([]byte, error) {
	if s.readErr != nil {
		return nil, s.readErr
	}
	select {
	case ev := <-s.p.toClient:
		if ev.err != nil {
			s.readErr = ev.err
			return nil, ev.err
		}
		return ev.frame, nil
	case <-s.p.clientClosed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *fakeSocket) Write(ctx context.Context, frame []byte) error {
	select {
	case <-s.p.clientClosed:
		return net.ErrClosed
	default:
	}
	select {
	case s.p.fromClient <- frame:
		return nil
	case <-s.p.clientClosed:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *fakeSocket) Close(code int, reason string) error {
	s.p.closeOnce.Do(func() {
		s.p.closeCode, s.p.closeReason = code, reason
		close(s.p.clientClosed)
	})
	return nil
}

// stateLog records every state a client goes through.
type stateLog struct {
	mu     sync.Mutex
	states []StateInfo
	next   int // first state not yet consumed by waitFor
	signal chan struct{}
}

func recordStates(c *Client) *stateLog {
	l := &stateLog{signal: make(chan struct{}, 1)}
	c.OnState(func(s StateInfo) {
		l.mu.Lock()
		l.states = append(l.states, s)
		l.mu.Unlock()
		select {
		case l.signal <- struct{}{}:
		default:
		}
	})
	return l
}

// waitFor consumes recorded states until one satisfies ok and returns it.
func (l *stateLog) waitFor(t *testing.T, what string, ok func(StateInfo) bool) StateInfo {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		l.mu.Lock()
		for l.next < len(l.states) {
			s := l.states[l.next]
			l.next++
			if ok(s) {
				l.mu.Unlock()
				return s
			}
		}
		l.mu.Unlock()
		select {
		case <-l.signal:
		case <-deadline:
			t.Fatalf("client never reached state %s; states: %v", what, l.all())
		}
	}
}

func (l *stateLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.states {
		out = append(out, s.State.String())
	}
	return out
}

func isState(want State) func(StateInfo) bool {
	return func(s StateInfo) bool { return s.State == want }
}

// harness runs a Client over a fakeTransport for one test.
type harness struct {
	c      *Client
	ft     *fakeTransport
	states *stateLog
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	runErr error
}

// newClient is New that fails the test on an error.
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = testmsg.NewRegistry()
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// start creates a client with opts (a new fakeTransport unless opts has
// one, fast backoff unless set), lets setup
// register handlers, and runs it until the test ends.
func start(t *testing.T, opts Config, setup func(c *Client)) *harness {
	t.Helper()
	ft, ok := opts.Transport.(*fakeTransport)
	if !ok {
		ft = newFakeTransport()
		opts.Transport = ft
	}
	opts.URL = "fake://tether/ws?user=alice"
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	c := newClient(t, opts)
	h := &harness{c: c, ft: ft, states: recordStates(c), done: make(chan struct{})}
	if setup != nil {
		setup(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		h.runErr = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			t.Errorf("Run did not return within %s of cancelling its context", waitLimit)
		}
	})
	return h
}

// open accepts the client's next connection and greets it with a heartbeat
// long enough not to interfere.
func (h *harness) open(t *testing.T) *fakePeer {
	t.Helper()
	p := h.ft.accept(t)
	p.welcome(t, time.Hour.Milliseconds())
	h.states.waitFor(t, "open", isState(Open))
	return p
}

// wait waits for Run to return and returns its error.
func (h *harness) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-h.done:
		return h.runErr
	case <-time.After(waitLimit):
		t.Fatalf("Run did not return within %s", waitLimit)
		return nil
	}
}

// async runs fn in a goroutine and returns a channel with its result.
func async[T any](fn func() (T, error)) <-chan result[T] {
	ch := make(chan result[T], 1)
	go func() {
		v, err := fn()
		ch <- result[T]{v, err}
	}()
	return ch
}

type result[T any] struct {
	v   T
	err error
}

func await[T any](t *testing.T, ch <-chan result[T]) (T, error) {
	t.Helper()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(waitLimit):
		t.Fatalf("call did not return within %s", waitLimit)
		var zero T
		return zero, nil
	}
}

// decodeData decodes a client frame's data into v.
func decodeData(t *testing.T, env shared.Envelope, v any) {
	t.Helper()
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("decode %s data %s: %v", env.Type, env.Data, err)
	}
}

// errorCode returns the code of err when it is a *shared.Error.
func errorCode(err error) string {
	var se *shared.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}
