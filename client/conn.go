package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/shared"
)

// errConnEnded is returned by conn methods once the connection has ended.
var errConnEnded = errors.New("connection ended")

// conn is the client side of one open WebSocket connection: its single
// writer, its pending requests and its receive clock. It lives from the
// welcome until the read loop ends.
type conn struct {
	sock         Socket
	ctx          context.Context // done when the connection ends
	cancel       context.CancelFunc
	start        time.Time
	writeTimeout time.Duration
	wsem         chan struct{} // the write lock; a channel so waiting honours ctx
	done         chan struct{} // closed by end
	// ready is closed when the remembered rooms have been rejoined (at
	// once when there were none): keyed sends wait for it, so that a
	// resent chat.send does not meet not_joined.
	ready chan struct{}

	recvs    atomic.Uint64 // frames received
	lastRecv atomic.Int64  // when the last frame arrived, as nanoseconds since start

	kickReason string // set by the read goroutine when a kicked message arrives
	user       string // the user the server's welcome named

	mu      sync.Mutex
	pending map[uint64]replySlot // nil once ended
	cause   error
	ended   bool
}

func newConn(ctx context.Context, sock Socket, writeTimeout time.Duration) *conn {
	ctx, cancel := context.WithCancel(ctx)
	return &conn{
		sock:         sock,
		ctx:          ctx,
		cancel:       cancel,
		start:        time.Now(),
		writeTimeout: writeTimeout,
		wsem:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		ready:        make(chan struct{}),
		pending:      make(map[uint64]replySlot),
	}
}

// touch records that a frame arrived.
func (cn *conn) touch() {
	cn.lastRecv.Store(int64(time.Since(cn.start)))
	cn.recvs.Add(1)
}

// idle is how long nothing has been received.
func (cn *conn) idle() time.Duration {
	return time.Since(cn.start) - time.Duration(cn.lastRecv.Load())
}

// fail ends the connection from the client's side for cause: the read loop
// returns and the session reports cause.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.cause == nil {
		cn.cause = cause
	}
	cn.mu.Unlock()
	cn.cancel()
}

// end marks the connection ended after the read loop returned with readErr:
// pending requests and goroutines serving the connection are released. It
// returns why the connection ended.
func (cn *conn) end(readErr error) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if !cn.ended {
		cn.ended = true
		if cn.cause == nil {
			cn.cause = readErr
		}
		cn.pending = nil
		cn.cancel()
		close(cn.done)
	}
	return cn.cause
}

// replySlot is where the reply to one request goes.
type replySlot struct {
	ch   chan shared.Envelope // buffered, receives at most once
	send bool                 // an outbox message: its error answer goes to the handlers too
}

// register makes a reply slot for request id. It fails once the connection
// has ended.
func (cn *conn) register(id uint64, send bool) (chan shared.Envelope, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.pending == nil {
		return nil, errConnEnded
	}
	ch := make(chan shared.Envelope, 1)
	cn.pending[id] = replySlot{ch: ch, send: send}
	return ch, nil
}

func (cn *conn) unregister(id uint64) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	delete(cn.pending, id)
}

// deliver hands a reply to its waiting request and reports whether one was
// waiting, and whether that request was an outbox message.
func (cn *conn) deliver(env shared.Envelope) (ok, send bool) {
	cn.mu.Lock()
	slot, ok := cn.pending[env.ID]
	delete(cn.pending, env.ID)
	cn.mu.Unlock()
	if ok {
		slot.ch <- env // buffered; each slot receives at most once
	}
	return ok, slot.send
}

// write sends m in env. Writes are serialised; a write that fails leaves the
// socket in an unknown state, so it ends the connection.
func (cn *conn) write(ctx context.Context, env shared.Envelope, m shared.Message) error {
	frame, err := shared.Encode(env, m)
	if err != nil {
		return err
	}
	select {
	case cn.wsem <- struct{}{}:
	case <-cn.done:
		return errConnEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-cn.wsem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cn.writeTimeout)
		defer cancel()
	}
	if err := cn.sock.Write(ctx, frame); err != nil {
		err = fmt.Errorf("write %s: %w", m.MessageType(), err)
		cn.fail(err)
		return err
	}
	return nil
}

// call is a request written on a connection and waiting for its reply.
type call struct {
	id    uint64
	typ   string
	reply chan shared.Envelope
}

// send registers a reply slot for id and writes m as a request.
func (cn *conn) send(ctx context.Context, id uint64, m shared.Message) (*call, error) {
	return cn.sendKeyed(ctx, id, "", m, false)
}

// sendKeyed is send with an idempotency key (empty: none); send marks an
// outbox message.
func (cn *conn) sendKeyed(ctx context.Context, id uint64, key string, m shared.Message, send bool) (*call, error) {
	return cn.sendEnv(ctx, shared.Envelope{ID: id, Key: key}, m, send)
}

// sendEnv registers a reply slot for env.ID and writes m in env as a
// request; send marks an outbox message.
func (cn *conn) sendEnv(ctx context.Context, env shared.Envelope, m shared.Message, send bool) (*call, error) {
	id := env.ID
	ch, err := cn.register(id, send)
	if err != nil {
		return nil, closedError(m.MessageType())
	}
	if err := cn.write(ctx, env, m); err != nil {
		cn.unregister(id)
		switch {
		case errors.Is(err, errConnEnded):
			return nil, closedError(m.MessageType())
		case ctx.Err() != nil:
			return nil, ctxError(ctx, m.MessageType())
		}
		return nil, fmt.Errorf("%s request: %w", m.MessageType(), err)
	}
	return &call{id: id, typ: m.MessageType(), reply: ch}, nil
}

// wait waits for the reply to cl.
func (cn *conn) wait(ctx context.Context, cl *call) (shared.Envelope, error) {
	defer cn.unregister(cl.id)
	select {
	case env := <-cl.reply:
		return env, nil
	case <-cn.done:
		select { // the reply may have arrived just before the end
		case env := <-cl.reply:
			return env, nil
		default:
		}
		return shared.Envelope{}, closedError(cl.typ)
	case <-ctx.Done():
		return shared.Envelope{}, ctxError(ctx, cl.typ)
	}
}

// resend sends reqs again on a new connection cn (the remembered rooms or
// maps after a reconnect): every request is written at once, then each reply
// is awaited and decoded as Resp, all within one Config.RequestTimeout. The
// first request that cannot be written stops the writing; calls never
// waited for are unregistered when cn ends. Every failure is logged as op,
// with the request's name under key; a request the server refuses for good
// (a permanent error code) is handed to dropped. resend reports whether
// every request was answered with Resp.
func resend[Resp, Req shared.Message](c *Client, cn *conn, op, key string, reqs []Req,
	name func(Req) string, dropped func(Req)) bool {
	ctx, cancel := context.WithTimeout(cn.ctx, c.opts.RequestTimeout)
	defer cancel()
	calls := make([]*call, 0, len(reqs))
	for _, r := range reqs {
		cl, err := cn.send(ctx, c.nextID.Add(1), r)
		if err != nil {
			c.log.Warn("tether client: "+op+" failed", key, name(r), "err", err)
			break
		}
		calls = append(calls, cl)
	}
	ok := len(calls) == len(reqs)
	for i, cl := range calls {
		env, err := cn.wait(ctx, cl)
		if err != nil {
			c.log.Warn("tether client: "+op+" failed", key, name(reqs[i]), "err", err)
			ok = false
			continue
		}
		if _, err := decodeReply[Resp](cl.typ, env); err != nil {
			ok = false
			c.log.Warn("tether client: "+op+" refused", key, name(reqs[i]), "err", err)
			var se *shared.Error
			if errors.As(err, &se) && permanent(se.Code) {
				dropped(reqs[i])
			}
		}
	}
	return ok
}
