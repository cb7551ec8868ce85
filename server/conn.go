package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
	"golang.org/x/time/rate"
)

// Conn is one client connection. Its methods are safe for concurrent use.
type Conn struct {
	srv    *Server
	ws     *websocket.Conn
	id     string
	user   string
	name   string
	remote string
	since  time.Time

	expMu   sync.Mutex
	expires time.Time   // Identity.Expires, moved by refresh; zero: never
	expiry  *time.Timer // closes the connection at expires; nil when zero

	// limiter is the message rate limit (nil: unlimited); refusals and
	// refusedSince count the refusals of the current RateLimitWindow. All
	// three are used by the reader goroutine only.
	limiter      *rate.Limiter
	refusals     int
	refusedSince time.Time

	ctx    context.Context    // cancelled when the connection starts closing
	cancel context.CancelFunc // cancels ctx

	bc *batchConn // the socket under ws, which buffers the writer's batches

	// The send queue: frames queued and not yet taken by the writer, and the
	// count of items not yet written (queued or in the writer's batch),
	// bounded by Config.SendQueue. The slice grows as needed, so an idle
	// connection holds no queue buffer; spare is the writer's other buffer.
	qmu       sync.Mutex
	queued    []*outFrame
	unwritten int
	spare     []*outFrame   // writer only
	wake      chan struct{} // capacity 1: the writer has something to do
	pingDue   atomic.Bool   // the heartbeat timer fired: send a ping

	// The writer goroutine runs while there is something to write (see
	// writeLoop): writerRuns and writerGone (it closed the socket) are
	// guarded by qmu; wrote (something was written since the last ping)
	// belongs to the running writer.
	writerRuns, writerGone bool
	// held keeps the writer from starting until serve has registered the
	// connection: a client that has read welcome can then be reached by
	// Kick and the sends to its user.
	held      bool
	wrote     bool
	heartbeat *time.Timer // startHeartbeat's

	closing    chan struct{} // closed by startClose
	readerDone chan struct{} // closed when the reader stops reading
	writerDone chan struct{} // closed when the writer has closed the socket

	closeMu sync.Mutex
	closed  *closeRequest // the first close request; nil while open

	app appPinger // the application heartbeat, when the client asked for it (liveness.go)

	mu     sync.Mutex
	rooms  map[string]struct{} // joined rooms; changed under the room's lock too
	client string              // from hello
}

// closeRequest is how a connection is to be closed. The first request wins.
type closeRequest struct {
	code   int
	reason string
	send   bool // send a close frame (false when the peer or gorilla already did)
	flush  bool // write the queued frames first
}

func newConn(s *Server, ws *websocket.Conn, bc *batchConn, id Identity, remote string) *Conn {
	ctx, cancel := context.WithCancel(s.ctx)
	var limiter *rate.Limiter
	if s.cfg.MessageRate != rate.Inf {
		limiter = rate.NewLimiter(s.cfg.MessageRate, s.cfg.MessageBurst)
	}
	c := &Conn{
		srv:        s,
		ws:         ws,
		bc:         bc,
		id:         randomID(8),
		user:       id.User,
		name:       id.Name,
		remote:     remote,
		since:      s.now(),
		expires:    id.Expires,
		limiter:    limiter,
		ctx:        ctx,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		held:       true,
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		rooms:      make(map[string]struct{}),
	}
	c.startHeartbeat()
	return c
}

// ID returns the connection's unique id, as sent in welcome.
func (c *Conn) ID() string { return c.id }

// User returns the authenticated user id.
func (c *Conn) User() string { return c.user }

// Name returns the user's display name.
func (c *Conn) Name() string { return c.name }

// Expires returns when the connection's identity expires (and the
// connection is closed with 1008); zero means never. A refresh message
// moves it.
func (c *Conn) Expires() time.Time {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	return c.expires
}

// startExpiry arms the 1008 "token expired" close at the connection's
// expiry.
func (c *Conn) startExpiry() {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if !c.expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(c.expires), c.weakly((*Conn).expire))
	}
}

// stopExpiry disarms it when the connection has ended, so an expiry far in
// the future holds nothing once the connection is gone. (The connection is
// closing by then, so moveExpiry arms nothing new.)
func (c *Conn) stopExpiry() {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// weakly returns a timer function that calls fn with c without keeping c
// reachable. Go stops a timer lazily: a stopped timer stays in the runtime's
// timer heap, with its function, until its old due time comes round (or the
// heap is tidied), so a timer function holding c would keep a closed
// connection (its socket, gorilla's buffers, its queue) in memory for up to
// a heartbeat interval or a token's lifetime. While the connection is open
// its goroutines hold it, so fn runs whenever it matters.
func (c *Conn) weakly(fn func(*Conn)) func() {
	w := weak.Make(c)
	return func() {
		if c := w.Value(); c != nil {
			fn(c)
		}
	}
}

// expire closes the connection for an expired token.
func (c *Conn) expire() {
	if c.startClose(closeRequest{code: shared.ClosePolicyViolation, reason: "token expired", send: true, flush: true}) {
		c.srv.log.Debug("token expired", "conn", c.id, "user", c.user)
	}
}

// moveExpiry sets the connection's expiry to exp (zero: never), unless the
// old one has already passed and closed the connection. It reports whether
// it moved.
func (c *Conn) moveExpiry(exp time.Time) bool {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.isClosing() {
		return false
	}
	if c.expiry != nil && !c.expiry.Stop() {
		return false // fired: the connection is closing for the old token
	}
	c.expires = exp
	c.expiry = nil
	if !exp.IsZero() {
		c.expiry = time.AfterFunc(time.Until(exp), c.weakly((*Conn).expire))
	}
	return true
}

// RemoteAddr returns the client's network address as seen by the HTTP server.
func (c *Conn) RemoteAddr() string { return c.remote }

// Member returns the connection's user as a room member.
func (c *Conn) Member() shared.Member { return shared.Member{User: c.user, Name: c.name} }

// Rooms returns the rooms the connection has joined, sorted.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rooms := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		rooms = append(rooms, r)
	}
	slices.Sort(rooms)
	return rooms
}

// Joined reports whether the connection has joined room.
func (c *Conn) Joined(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[room]
	return ok
}

// Send queues m for the connection. It never blocks: it fails with ErrClosed
// when the connection is closing or its queue is full (which closes it).
func (c *Conn) Send(m shared.Message) error {
	return c.sendEnv(shared.Envelope{}, m)
}

// Close closes the connection with a WebSocket close code (e.g. 1000, or
// 4000–4999) and reason, after writing what is already queued. Closing a
// closed connection does nothing.
func (c *Conn) Close(code int, reason string) {
	c.startClose(closeRequest{code: code, reason: reason, send: true, flush: true})
}

// Context returns a context cancelled when the connection starts closing.
func (c *Conn) Context() context.Context { return c.ctx }

// info returns the connection's public description.
func (c *Conn) info() ConnInfo {
	c.mu.Lock()
	client := c.client
	c.mu.Unlock()
	return ConnInfo{ID: c.id, User: c.user, Name: c.name, Remote: c.remote, Client: client, Rooms: c.Rooms(), Since: c.since}
}

// sendEnv encodes m in env (e.g. with a request id) and queues it.
func (c *Conn) sendEnv(env shared.Envelope, m shared.Message) error {
	f, err := encode(env, m)
	if err != nil {
		return fmt.Errorf("send to %s: %w", c.id, err)
	}
	return c.enqueue(f)
}

// enqueue hands f to the writer without blocking. A full queue means the
// client does not keep up: the frame is dropped and the connection closed
// with 4002.
func (c *Conn) enqueue(f *outFrame) error {
	select {
	case <-c.closing:
		c.srv.obs.Dropped("closed")
		return fmt.Errorf("send to %s: %w", c.id, ErrClosed)
	default:
	}
	c.qmu.Lock()
	if c.unwritten < c.srv.cfg.SendQueue {
		c.queued = append(c.queued, f)
		c.unwritten++
		start := c.claimWriter()
		c.qmu.Unlock()
		c.wakeWriter(start)
		return nil
	}
	c.qmu.Unlock()
	c.srv.stats.dropped.Add(1)
	c.srv.obs.Dropped("slow_consumer")
	if c.startClose(closeRequest{code: shared.CloseSlowConsumer, reason: "slow consumer", send: true}) {
		c.srv.obs.SlowConsumer()
		c.srv.log.Warn("slow consumer closed", "conn", c.id, "user", c.user, "queue", c.srv.cfg.SendQueue)
		// The writer is most likely blocked writing to a peer that does
		// not read: give that write closeGrace to finish (so a peer that
		// is merely slow still gets the 4002 close frame), then expire
		// it, so the connection and its queue are freed within a second,
		// not after the write timeout.
		c.bc.expire(time.Now().Add(min(closeGrace, c.srv.cfg.WriteTimeout)))
	}
	return fmt.Errorf("send to %s: queue full: %w", c.id, ErrClosed)
}

// takeQueued takes the queued frames, at most maxBatchFrames of them, for
// the writer; more reports whether some were left queued.
func (c *Conn) takeQueued() (batch []*outFrame, more bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queued) <= maxBatchFrames {
		batch, c.queued = c.queued, c.spare
		c.spare = nil
		return batch, false
	}
	batch = append(c.spare, c.queued[:maxBatchFrames]...)
	c.spare = nil
	n := copy(c.queued, c.queued[maxBatchFrames:])
	clear(c.queued[n:])
	c.queued = c.queued[:n]
	return batch, true
}

// maxSpare is the largest queue buffer the writer keeps for reuse once a
// batch is written: a burst's larger one is left to the garbage collector,
// so that an idle connection goes back to holding a small one.
const maxSpare = 64

// recycle keeps batch, emptied, as the writer's spare queue buffer.
func (c *Conn) recycle(batch []*outFrame) {
	clear(batch)
	if cap(batch) > maxSpare {
		return
	}
	c.spare = batch[:0]
}

// startClose records how the connection closes and wakes the writer, which
// performs it. Only the first request counts; it reports whether this one did.
func (c *Conn) startClose(req closeRequest) bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed != nil {
		return false
	}
	req.reason = closeReason(req.reason)
	c.closed = &req
	close(c.closing)
	c.signal()
	c.cancel()
	return true
}

// closeState returns the first close request, or false while open.
func (c *Conn) closeState() (closeRequest, bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed == nil {
		return closeRequest{}, false
	}
	return *c.closed, true
}

// isClosing reports whether the connection has started closing.
func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// addRoom and dropRoom keep the connection's room set; callers hold the
// room's lock.
func (c *Conn) addRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, had := c.rooms[room]
	c.rooms[room] = struct{}{}
	return !had
}

func (c *Conn) dropRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, had := c.rooms[room]
	delete(c.rooms, room)
	return had
}
