package client

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/shared"
)

// Errors returned by Client methods.
var (
	// ErrNotConnected is returned by Send when the client is not Open.
	ErrNotConnected = errors.New("client: not connected")
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("client: closed")
	// ErrRunning is returned by Run when another Run of the same client has
	// not returned yet.
	ErrRunning = errors.New("client: Run is already running")
)

// Client is a connection to a Tether server that survives connection loss:
// Run connects, dispatches incoming messages to typed handlers and
// reconnects with backoff, rejoining rooms without losing or repeating room
// messages. Create it with New.
type Client struct {
	opts        Config // defaults applied
	log         *slog.Logger
	reg         *shared.Registry
	rnd         *rand.Rand // backoff jitter; used by the Run goroutine only
	stableAfter time.Duration

	nextID    atomic.Uint64 // request ids; the first is 1
	keyPrefix string        // random; idempotency keys are keyPrefix-n
	nextKey   atomic.Uint64 // idempotency key counter

	outboxWake chan struct{} // Send's signal to the outbox sender, capacity 1
	wake       chan struct{} // Reconnect's signal, capacity 1

	closeCtx    context.Context // done once Close is called
	closeCancel context.CancelFunc

	notifyMu sync.Mutex // serialises state changes and their callbacks

	mu        sync.Mutex
	state     StateInfo
	changed   chan struct{} // closed and replaced on every state change
	closed    bool          // Close was called
	running   bool          // Run has not returned
	conn      *conn         // the open connection; nil unless Open
	hidden    bool          // the page is hidden (lifecycle.go): no connection until shown
	scope     string        // of the stored outbox, once the server named the user (outboxstore.go)
	joinedCh  chan struct{} // closed and replaced on every joined
	endConn   context.CancelCauseFunc
	rooms     map[string]*roomState
	maps      map[string]mapCopy // subscribed maps, by name
	outbox    []*outgoing        // Send's queue, oldest first; the head may be in flight
	handlers  map[string][]handler
	stateFns  []func(StateInfo)
	joinedFns []func(shared.Joined)
	gapFns    []func(Gap)
}

// New returns a client configured by cfg (see Config for the defaults), or
// an error naming every field of cfg that has no meaning. It does not
// connect: call Run.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := cfg.withDefaults()
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails (crypto/rand crashes the program instead)
	closeCtx, closeCancel := context.WithCancel(context.Background())
	var prefix [8]byte
	_, _ = crand.Read(prefix[:])
	c := &Client{
		keyPrefix:   hex.EncodeToString(prefix[:]),
		outboxWake:  make(chan struct{}, 1),
		opts:        opts,
		log:         opts.Logger,
		reg:         opts.Registry,
		rnd:         rand.New(rand.NewChaCha8(seed)),
		stableAfter: stableConnection,
		wake:        make(chan struct{}, 1),
		closeCtx:    closeCtx,
		closeCancel: closeCancel,
		changed:     make(chan struct{}),
		joinedCh:    make(chan struct{}),
		rooms:       make(map[string]*roomState),
		maps:        make(map[string]mapCopy),
		handlers:    make(map[string][]handler),
	}
	return c, nil
}

// Run connects to the server and keeps the client connected until ctx is
// done, Close is called, or the server kicks (close code 4000) or rejects
// (4001) the client. After a lost connection it waits (see
// Config.MaxBackoff), connects again and rejoins the rooms joined so far.
// Handlers and state callbacks run on Run's goroutine.
//
// Run returns nil when ctx is done or Close was called, a *CloseError
// (use errors.As) when the server kicked or rejected the client, and a
// *HandshakeError when it refused the handshake with 401 (no valid token)
// or 403 (origin not allowed), which no retry would change. Every
// goroutine the client started has stopped when Run returns. Run may be
// called again after it returned, except after Close (ErrClosed).
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrRunning
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()

	stopWatch := c.watchPage(ctx)
	defer stopWatch()

	attempt := 0
	for {
		if ctx.Err() != nil || !c.waitShown(ctx) {
			c.setClosedByClient()
			return nil
		}
		c.setState(StateInfo{State: Connecting, Attempt: attempt}, nil)
		sctx, done := c.startSession(ctx)
		res := c.session(sctx)
		done()
		if ctx.Err() != nil {
			c.setClosedByClient()
			return nil
		}
		if errors.Is(context.Cause(sctx), errPageHidden) {
			// Not a failure: the page went away with its connection closed
			// on purpose. The next attempt is when it is shown again.
			c.log.Info("tether client: page hidden; connection closed until it is shown again")
			c.setState(StateInfo{State: Reconnecting, Attempt: attempt, Err: errPageHidden, Hidden: true,
				CloseCode: shared.CloseGoingAway, Reason: pageHiddenReason}, nil)
			continue
		}
		if res.refused != nil {
			c.log.Error("tether client: the server refused the handshake; not reconnecting",
				"status", res.refused.Status, "code", res.refused.Code, "message", res.refused.Message)
			c.setState(StateInfo{State: Closed, Err: res.err, Attempt: attempt}, nil)
			return res.err
		}
		if res.terminal != nil {
			c.log.Info("tether client: server ended the session; not reconnecting",
				"code", res.terminal.Code, "reason", res.terminal.Reason)
			c.setState(StateInfo{State: Closed, Err: res.err,
				CloseCode: res.terminal.Code, Reason: res.terminal.Reason}, nil)
			return res.terminal
		}
		if res.healthy || res.opened && res.openFor >= c.stableAfter {
			attempt = 0
		}
		attempt++
		delay := backoff(retryAttempt(attempt, res.err), c.opts.MinBackoff, c.opts.MaxBackoff, c.rnd)
		info := StateInfo{State: Reconnecting, RetryAt: time.Now().Add(delay), Attempt: attempt, Err: res.err}
		var ce *CloseError
		if errors.As(res.err, &ce) {
			info.CloseCode, info.Reason = ce.Code, ce.Reason
		}
		c.log.Info("tether client: connection lost; reconnecting", "err", res.err, "in", delay, "attempt", attempt)
		c.setState(info, nil)
		if !c.sleep(ctx, delay) {
			c.setClosedByClient()
			return nil
		}
	}
}

// sleep waits for d, or less when Reconnect is called. It reports false when
// ctx is done first.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.wake:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) setClosedByClient() {
	c.setState(StateInfo{State: Closed, CloseCode: shared.CloseNormal, Reason: "client closed"}, nil)
}

// Close stops the client: Run closes the connection with code 1000 and
// returns nil shortly after, and pending requests fail with code "closed".
// Close does not wait for Run to return (it may be called from a handler);
// wait for Run's return to know that every goroutine has stopped. Close is
// idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	idle := !c.running && c.state.State != Closed
	c.mu.Unlock()
	c.releaseOutbox()
	c.closeCancel()
	if idle {
		c.setClosedByClient()
	}
	return nil
}

// Reconnect asks for a connection now. While waiting to reconnect it skips
// the rest of the backoff wait; while Open it checks the connection with a
// ping at once and reconnects if nothing arrives within the ping interval.
// Browsers call it when they come back online or the page becomes visible.
func (c *Client) Reconnect() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// sessionResult is how one connection attempt ended.
type sessionResult struct {
	opened   bool            // the welcome arrived
	healthy  bool            // opened, and every remembered room was joined again
	openFor  time.Duration   // how long it stayed open
	err      error           // why it ended
	terminal *CloseError     // non-nil: kicked or rejected; do not reconnect
	refused  *HandshakeError // non-nil: a 401/403 handshake; do not reconnect
}

// session makes one connection and serves it until it ends.
func (c *Client) session(ctx context.Context) sessionResult {
	hctx, hcancel := context.WithTimeout(ctx, HandshakeTimeout)
	sock, err := c.opts.Transport.Dial(hctx, c.opts.URL)
	if err != nil {
		hcancel()
		res := sessionResult{err: fmt.Errorf("dial %s: %w", redactURL(c.opts.URL), err)}
		if he := (*HandshakeError)(nil); errors.As(err, &he) && he.Terminal() {
			res.refused = he
		}
		return res
	}
	welcome, err := readWelcome(hctx, sock)
	hcancel()
	if err != nil {
		_ = sock.Close(shared.CloseNormal, "no welcome")
		return sessionResult{err: err, terminal: terminal(err, "")}
	}

	cn := newConn(ctx, sock, c.opts.RequestTimeout)
	cn.user = welcome.User
	var (
		rejoins []shared.Join
		resubs  []shared.MapSub
	)
	c.setState(StateInfo{State: Open, Welcome: welcome}, func() {
		c.conn = cn
		for room, rs := range c.rooms {
			rejoins = append(rejoins, rs.joinMsg(room))
		}
		for _, m := range c.maps {
			resubs = append(resubs, m.resume())
		}
	})
	c.log.Debug("tether client: connected", "conn", welcome.Conn, "user", welcome.User, "rejoin", len(rejoins))
	if askAppPing && welcome.AppPingMS > 0 {
		// A browser page: the server's application pings tell a live page
		// from a frozen one (docs/protocol.md §6).
		_ = cn.write(cn.ctx, shared.Envelope{}, shared.Hello{Client: clientName, AppPing: true})
	}
	c.dispatch(shared.Envelope{Type: welcome.MessageType()}, welcome)

	var wg sync.WaitGroup
	var rejoined atomic.Bool
	wg.Go(func() { c.heartbeat(cn, c.opts.pingInterval(welcome)) })
	if len(rejoins) > 0 || len(resubs) > 0 {
		wg.Go(func() {
			ok := c.rejoin(cn, rejoins)
			ok = c.resubscribe(cn, resubs) && ok
			rejoined.Store(ok)
			close(cn.ready)
		})
	} else {
		rejoined.Store(true)
		close(cn.ready)
	}
	if c.opts.Outbox >= 0 {
		wg.Go(func() { c.flushOutbox(cn) })
	}
	if c.opts.Token != nil && welcome.ExpiresMS != 0 {
		wg.Go(func() { c.keepToken(cn, fromUnixMS(welcome.ExpiresMS)) })
	}
	readErr := c.readLoop(cn)

	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	lostMaps := make([]mapCopy, 0, len(c.maps))
	for _, m := range c.maps {
		lostMaps = append(lostMaps, m)
	}
	c.mu.Unlock()
	for _, m := range lostMaps {
		m.lost() // a snapshot cut short is dropped; the next connection resumes
	}
	cause := cn.end(readErr)
	switch {
	case errors.Is(context.Cause(ctx), errPageHidden):
		_ = sock.Close(shared.CloseGoingAway, pageHiddenReason)
	case ctx.Err() != nil:
		_ = sock.Close(shared.CloseNormal, "client closed")
	default:
		_ = sock.Close(shared.CloseGoingAway, "reconnecting")
	}
	wg.Wait()
	return sessionResult{opened: true, healthy: rejoined.Load(), openFor: time.Since(cn.start),
		err: cause, terminal: terminal(cause, cn.kickReason)}
}

// terminal returns the close that forbids reconnecting, if err is one, or a
// kick announced by a kicked message (kickReason non-empty) whose close frame
// never arrived.
func terminal(err error, kickReason string) *CloseError {
	var ce *CloseError
	if errors.As(err, &ce) && (ce.Code == shared.CloseKicked || ce.Code == shared.CloseRejected) {
		t := *ce
		if t.Reason == "" {
			t.Reason = kickReason
		}
		return &t
	}
	if kickReason != "" {
		return &CloseError{Code: shared.CloseKicked, Reason: kickReason}
	}
	return nil
}

// readWelcome reads the server's first message, which must be welcome.
func readWelcome(ctx context.Context, sock Socket) (shared.Welcome, error) {
	frame, err := sock.Read(ctx)
	if err != nil {
		return shared.Welcome{}, fmt.Errorf("read welcome: %w", err)
	}
	w, _, err := shared.UnmarshalFrame[shared.Welcome](frame)
	if err != nil {
		return shared.Welcome{}, fmt.Errorf("first message is not a valid welcome: %w", err)
	}
	return w, nil
}

// readLoop reads and handles frames until the connection ends.
func (c *Client) readLoop(cn *conn) error {
	for {
		frame, err := cn.sock.Read(cn.ctx)
		if err != nil {
			return err
		}
		cn.touch()
		c.handleFrame(cn, frame)
	}
}

// handleFrame processes one frame on the read goroutine.
func (c *Client) handleFrame(cn *conn, frame []byte) {
	env, err := shared.DecodeEnvelope(frame)
	if err != nil {
		c.log.Warn("tether client: dropping malformed frame", "err", err)
		return
	}
	switch env.Type {
	case shared.TypeOf[shared.Joined]():
		// Before the reply is delivered and before the replayed messages
		// that follow it on this socket are handled.
		c.handleJoined(env)
	case shared.TypeOf[shared.MapSubscribed](), shared.TypeOf[shared.MapSnapshot](), shared.TypeOf[shared.MapChange]():
		// Before the reply is delivered, so that Subscribe finds the copy
		// collecting its snapshot.
		c.handleMapFrame(env)
	case shared.TypeOf[shared.Last]():
		c.handleLast(env)
		return
	case shared.TypeOf[shared.Ping]():
		if env.ID == 0 {
			// The server's application ping (docs/protocol.md §6): answer
			// at once; the browser never blocks a write.
			_ = cn.write(cn.ctx, shared.Envelope{}, shared.Pong{})
			return
		}
	case shared.TypeOf[shared.Kicked]():
		k, err := shared.Unmarshal[shared.Kicked](env)
		if err != nil {
			k.Reason = "kicked"
		}
		if k.Reason == "" {
			k.Reason = "kicked"
		}
		cn.kickReason = k.Reason
	}
	if env.ID != 0 {
		ok, send := cn.deliver(env)
		switch {
		case send:
			// The answer to an outbox message: its error, if final, goes to
			// the handlers as Send promises.
			if code := errorCodeOf(env); code != "" && code != shared.CodeRateLimited {
				c.dispatch(env, nil)
			}
		case !ok && env.Type != shared.TypeOf[shared.Pong]():
			c.log.Debug("tether client: reply to no pending request", "type", env.Type, "id", env.ID)
		}
		return
	}
	if env.Room != "" && env.Seq > 0 && !c.acceptRoomSeq(env.Room, env.Seq) {
		c.log.Debug("tether client: dropping duplicate room message", "room", env.Room, "seq", env.Seq, "type", env.Type)
		return
	}
	c.dispatch(env, nil)
}

// redactURL drops the query (which may carry ?token=) and any user info from
// a URL before it reaches an error or a log.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
			raw = scheme + "://" + rest[at+1:]
		}
	}
	return raw
}
