package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	ip     string // the client IP whose slot the connection holds (hub.begin)
	since  time.Time

	expMu     sync.Mutex   // orders moveExpiry against the node's timers
	expiresAt atomic.Int64 // Identity.Expires in Unix ns, moved by refresh; 0: never; read by the node's timers
	pingedAt  atomic.Int64 // when the node's timers last had a ping sent, in Unix ns

	// limiter is the message rate limit (nil: unlimited); refusals and
	// refusedSince (Unix ns) count the refusals of the current
	// RateLimitWindow. All three are used where the connection's messages
	// are handled, one at a time.
	limiter      *rate.Limiter
	refusedSince int64
	refusals     int32
	// The reader (reader.go). readMu guards rstate, sockClosed and the
	// poller's token and fd; midMessage belongs to the reader.
	rstate     readerState
	sockClosed bool         // closeSocket has run
	midMessage bool         // a message was left unread (too big): no control frame can be next
	registered bool         // in the hub (serve)
	polled     atomic.Bool  // watched by the poller: read by runs, not a goroutine
	ends       atomic.Int32 // the reader and the writer that have ended: at 2, finish
	pollFD     int32
	readMu     sync.Mutex
	pollToken  uint64       // the poller's token for the socket; 0: not watched
	lastRead   atomic.Int64 // when something was last received, in Unix ns (alive)

	// heldRound holds back the connection's ordered sends (ordered.go):
	// those whose round is not above it are refused. Used where the
	// connection's messages are handled, one at a time, as the limiter.
	heldRound uint64

	bc *batchConn  // the socket under ws: buffers every write until the writer flushes
	rb *readBuffer // ws's read buffer, held while a frame arrives (reader only)
	q  sendQueue   // the frames for the writer, and when it runs

	closing    chan struct{} // closed by startClose: the connection's context is done
	readerDone chan struct{} // closed when the reader stops reading

	closeMu sync.Mutex
	closed  *closeRequest // the first close request; nil while open
	afters  []*afterFunc  // run when the connection starts closing (Context's AfterFunc)

	app appPinger // the application heartbeat, when the client asked for it (liveness.go)

	mu     sync.Mutex
	rooms  nameSet // joined rooms; changed under the room's lock too
	maps   nameSet // subscribed maps
	client string  // from hello
}

func newConn(s *Server, ws *websocket.Conn, bc *batchConn, rb *readBuffer, id Identity, remote, ip string) *Conn {
	var limiter *rate.Limiter
	if s.cfg.MessageRate != rate.Inf {
		limiter = rate.NewLimiter(s.cfg.MessageRate, s.cfg.MessageBurst)
	}
	c := &Conn{
		srv:        s,
		ws:         ws,
		bc:         bc,
		rb:         rb,
		id:         randomID(8),
		user:       id.User,
		name:       id.Name,
		remote:     remote,
		ip:         ip,
		since:      s.now(),
		limiter:    limiter,
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	c.q.init(s.cfg.SendQueue, c.writeLoop)
	c.expiresAt.Store(unixNano(id.Expires))
	c.pingedAt.Store(time.Now().UnixNano())
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
	if ns := c.expiresAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// expire closes the connection for an expired token.
func (c *Conn) expire() {
	if c.startClose(closeRequest{code: shared.ClosePolicyViolation, reason: "token expired", send: true, flush: true}) {
		c.srv.log.Debug("token expired", "conn", c.id, "user", c.user)
	}
}

// moveExpiry sets the connection's expiry to exp (zero: never), unless the
// old one has already passed (the node's timers close the connection for
// it). It reports whether it moved.
func (c *Conn) moveExpiry(exp time.Time) bool {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.isClosing() {
		return false
	}
	if old := c.expiresAt.Load(); old != 0 && time.Now().UnixNano() >= old {
		return false // passed: the connection is closing for the old token
	}
	c.expiresAt.Store(unixNano(exp))
	return true
}

// unixNano is t in Unix ns, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// RemoteAddr returns the client's network address as seen by the HTTP server.
func (c *Conn) RemoteAddr() string { return c.remote }

// Member returns the connection's user as a room member.
func (c *Conn) Member() shared.Member { return shared.Member{User: c.user, Name: c.name} }

// Rooms returns the rooms the connection has joined, sorted.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms.list()
}

// Joined reports whether the connection has joined room.
func (c *Conn) Joined(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms.has(room)
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

// Context returns a context cancelled (context.Canceled) when the
// connection starts closing. It has no deadline and carries no values;
// contexts derived from it cost no goroutine.
func (c *Conn) Context() context.Context { return (*connContext)(c) }

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
	if !c.isClosing() {
		switch c.q.push(f) {
		case pushed:
			return nil
		case pushFull:
			c.overflowed()
			return fmt.Errorf("send to %s: queue full: %w", c.id, ErrClosed)
		}
	}
	c.srv.obs.Dropped("closed")
	return fmt.Errorf("send to %s: %w", c.id, ErrClosed)
}

// overflowed closes the connection whose send queue is full, with 4002.
func (c *Conn) overflowed() {
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
}

// addRoom and dropRoom keep the connection's room set; callers hold the
// room's lock.
func (c *Conn) addRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms.add(room)
}

func (c *Conn) dropRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms.remove(room)
}
