package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/shared"
)

// handlerFunc is a registered handler with its types erased. A nil reply
// with a nil error means "no reply message".
type handlerFunc func(ctx context.Context, c *Conn, m shared.Message) (shared.Message, error)

// isSystemType reports whether typ is a client message the server handles
// itself.
func isSystemType(typ string) bool {
	switch typ {
	case shared.TypeOf[shared.Hello](), shared.TypeOf[shared.Join](), shared.TypeOf[shared.Leave](),
		shared.TypeOf[shared.PresenceList](), shared.TypeOf[shared.Ping](), shared.TypeOf[shared.Pong](),
		shared.TypeOf[shared.Refresh](), shared.TypeOf[shared.History](), shared.TypeOf[shared.MapSub](),
		shared.TypeOf[shared.MapUnsub](), shared.TypeOf[shared.MapSet](), shared.TypeOf[shared.MapDelete]():
		return true
	}
	return false
}

// Handle registers fn as the handler of client messages of type T. Handlers
// of one connection run one at a time, in the order the messages arrived, on
// a goroutine its reader starts and waits for; ctx is cancelled when the
// connection closes. Pass ctx to Publish: for a keyed request it makes the
// handler's publications safe to run again (docs/protocol.md §3). When the
// message carried a request id and fn returns nil, the
// client gets reply{ok:true}; an error reaches it as an error message (see
// HandleRequest). While a handler runs its connection is not read, so long
// work belongs in a goroutine of its own.
//
// Handle panics when T is not in the server's registry, is a system message
// the server handles itself, or already has a handler: a mistake in the
// program, reported where it is made, at setup. client.On is as strict.
func Handle[T shared.Message](s *Server, fn func(ctx context.Context, c *Conn, m T) error) {
	s.handle(shared.TypeOf[T](), func(ctx context.Context, c *Conn, m shared.Message) (shared.Message, error) {
		msg, ok := m.(T)
		if !ok {
			return nil, fmt.Errorf("handler of %s got a %T", shared.TypeOf[T](), m)
		}
		return nil, fn(ctx, c, msg)
	})
}

// HandleRequest registers fn as the handler of client messages of type Req;
// the Resp it returns is sent back with the request's id. An error is sent
// instead, as an error message: a *shared.Error as is, ErrNotJoined and
// ErrNotFound (wrapped or not) with codes not_joined and not_found, any
// other error with code rejected and the error's text.
//
// It panics like Handle.
func HandleRequest[Req, Resp shared.Message](s *Server, fn func(ctx context.Context, c *Conn, m Req) (Resp, error)) {
	s.handle(shared.TypeOf[Req](), func(ctx context.Context, c *Conn, m shared.Message) (shared.Message, error) {
		msg, ok := m.(Req)
		if !ok {
			return nil, fmt.Errorf("handler of %s got a %T", shared.TypeOf[Req](), m)
		}
		resp, err := fn(ctx, c, msg)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

func (s *Server) handle(typ string, h handlerFunc) {
	if !s.cfg.Registry.Known(typ) {
		panic(fmt.Sprintf("server.Handle: message type %q is not in the server's registry (Config.Registry)", typ))
	}
	if isSystemType(typ) {
		panic(fmt.Sprintf("server.Handle: message type %q is handled by the server", typ))
	}
	s.handlersMu.Lock()
	defer s.handlersMu.Unlock()
	if s.handlers[typ] != nil {
		panic(fmt.Sprintf("server.Handle: message type %q already has a handler", typ))
	}
	s.handlers[typ] = h
}

func (s *Server) handler(typ string) handlerFunc {
	s.handlersMu.RLock()
	defer s.handlersMu.RUnlock()
	return s.handlers[typ]
}

// dispatchFrame decodes one frame from c, applies the rate limit and acts
// on it. Frames that do not decode get an error message; the connection
// stays open.
func (s *Server) dispatchFrame(c *Conn, typ int, frame []byte) {
	if typ != websocket.TextMessage {
		s.obs.MessageIn("", len(frame))
		if c.allow(0) {
			c.sendError(0, &shared.Error{Code: shared.CodeMalformed, Message: "binary frames are not supported: send JSON envelopes in text frames"})
		}
		return
	}
	if !utf8.Valid(frame) {
		s.obs.MessageIn("", len(frame))
		c.startClose(closeRequest{code: shared.CloseInvalidPayload, reason: "text frame is not valid UTF-8", send: true})
		return
	}
	env, err := shared.DecodeEnvelope(frame)
	// Only registered types are reported: the type of an unknown message
	// is whatever the client chose, no name for a metric.
	known := ""
	if err == nil && s.cfg.Registry.Known(env.Type) {
		known = env.Type
	}
	s.obs.MessageIn(known, len(frame))
	var m shared.Message
	if err == nil {
		if !c.allow(env.ID) {
			c.holdOrdered(env, shared.CodeRateLimited)
			return // refused before its data is decoded: a flood costs less
		}
		if kerr := validKey(env.Key); kerr != nil {
			c.sendError(env.ID, &shared.Error{Code: shared.CodeMalformed, Message: kerr.Error(), Field: "key"})
			return
		}
		if env.Round != 0 && env.Key == "" {
			c.sendError(env.ID, &shared.Error{Code: shared.CodeMalformed, Message: "round is only for keyed requests (with a key)", Field: "round"})
			return
		}
		if m, err = s.cfg.Registry.Decode(env); err == nil {
			s.dispatch(c, env, m)
			return
		}
	} else if !c.allow(envelopeID(err)) {
		return
	}
	s.onError(c, fmt.Errorf("decode frame from %s: %w", c.id, err))
	id, e := decodeError(err)
	c.sendError(id, e)
}

// envelopeID is the request id of a frame that did not decode, when it
// could be read.
func envelopeID(err error) uint64 {
	id, _ := decodeError(err)
	return id
}

// allow applies the connection's rate limit to one message with request id
// reqID: a refused message gets an error with code rate_limited. Called on
// the reader goroutine only.
func (c *Conn) allow(reqID uint64) bool {
	if c.limiter == nil || c.limiter.Allow() {
		return true
	}
	s := c.srv
	c.sendError(reqID, &shared.Error{Code: shared.CodeRateLimited,
		Message: fmt.Sprintf("too many messages: at most %g a second, %d at once", float64(s.cfg.MessageRate), s.cfg.MessageBurst)})
	c.refused()
	return false
}

// allowPing applies the rate limit to a WebSocket ping frame: one over the
// limit is not answered. Called on the reader goroutine only.
func (c *Conn) allowPing() bool {
	if c.limiter == nil || c.limiter.Allow() {
		return true
	}
	c.refused()
	return false
}

// refused counts a message or ping refused by the rate limit. More than
// Config.MessageBurst refusals within RateLimitWindow close the connection
// with 1008: a client that does not slow down is cut off.
func (c *Conn) refused() {
	s := c.srv
	s.obs.RateLimited()
	now := time.Now()
	if c.refusals == 0 || now.Sub(time.Unix(0, c.refusedSince)) > RateLimitWindow {
		c.refusals, c.refusedSince = 0, now.UnixNano()
	}
	c.refusals++
	if int(c.refusals) > s.cfg.MessageBurst {
		if c.startClose(closeRequest{code: shared.ClosePolicyViolation, reason: "rate limit exceeded", send: true, flush: true}) {
			s.log.Warn("rate limit exceeded: closed", "conn", c.id, "user", c.user, "refused", c.refusals)
		}
	}
}

// dispatch acts on a decoded message: system messages here, the others by
// their handler.
func (s *Server) dispatch(c *Conn, env shared.Envelope, m shared.Message) {
	c.appAlive()
	switch m := m.(type) {
	case shared.Hello:
		c.mu.Lock()
		c.client = m.Client
		c.mu.Unlock()
		if m.AppPing {
			c.startAppPing()
		}
		c.replyOK(env.ID)
	case shared.Pong:
		// The answer to the server's application ping (liveness.go):
		// appAlive above took note.
		c.replyOK(env.ID)
	case shared.Join:
		s.join(c, env.ID, m)
	case shared.Leave:
		s.leave(c, env.ID, m)
	case shared.PresenceList:
		s.presenceList(c, env.ID, m)
	case shared.History:
		s.history(c, env.ID, m)
	case shared.Ping:
		s.onPing(c)
		_ = c.sendEnv(shared.Envelope{ID: env.ID}, shared.Pong{})
	case shared.Refresh:
		s.refresh(c, env.ID, m)
	case shared.MapSub:
		s.mapSub(c, env.ID, m)
	case shared.MapUnsub:
		s.mapUnsub(c, env.ID, m)
	case shared.MapSet:
		s.mapWrite(c, env.ID, m.Map, m.Key, m.Value, false, m.IfRev, m.TTLMS)
	case shared.MapDelete:
		s.mapWrite(c, env.ID, m.Map, m.Key, nil, true, m.IfRev, 0)
	default:
		s.runHandler(c, env, m)
	}
}

// runHandler runs the handler of m's type and answers per docs/protocol.md §3.
// A keyed request is first claimed in the idempotency window (the broker's,
// so that in a cluster the window spans every node): a key
// already claimed gets the first run's answer, waiting at most KeyWait for
// it, and the handler does not run again. When the window cannot be
// consulted the request is not run and is answered unavailable (fail
// closed: a request never runs twice because its store was unreachable).
// A run answered unavailable (a dependency failed under the handler) is not
// a final answer: its key is released instead of recorded.
func (s *Server) runHandler(c *Conn, env shared.Envelope, m shared.Message) {
	h := s.handler(env.Type)
	if h == nil {
		c.sendError(env.ID, &shared.Error{Code: shared.CodeNoHandler, Message: fmt.Sprintf("the server does not accept %q messages", env.Type)})
		return
	}
	if env.Key == "" {
		s.answer(c, env, s.runOnce(c.Context(), c, env, h, m))
		return
	}
	if c.orderedHeld(env) {
		c.sendError(env.ID, &shared.Error{Code: shared.CodeUnavailable, Message: orderedHeldMessage})
		return
	}
	ctx, cancel := context.WithTimeout(c.Context(), KeyWait)
	run, out, err := s.broker.Claim(ctx, c.user, env.Key, s.cfg.IdempotencyTTL)
	waited := ctx.Err() != nil
	cancel()
	switch {
	case err != nil && c.Context().Err() != nil:
		return // closing
	case err != nil && waited:
		s.log.Warn("keyed request: the first run has not finished", "conn", c.id, "user", c.user, "key", env.Key, "wait", KeyWait)
		c.holdOrdered(env, shared.CodeUnavailable)
		c.sendError(env.ID, &shared.Error{Code: shared.CodeUnavailable,
			Message: fmt.Sprintf("a request with this key is still running after %s: send it again later for its answer", KeyWait)})
		return
	case err != nil:
		s.onError(c, fmt.Errorf("claim key of %s from %s: %w", env.Type, c.id, err))
		c.holdOrdered(env, shared.CodeUnavailable)
		c.sendError(env.ID, &shared.Error{Code: shared.CodeUnavailable,
			Message: "the request was not run: its idempotency key could not be checked; try again"})
		return
	case run == nil:
		// Sent again (after a reconnect, most likely, maybe to another
		// node): answer as the first time, without running the handler.
		s.answer(c, env, out)
		return
	}
	out = s.runOnce(withKeyedRun(c.Context(), c.user, env.Key), c, env, h, m)
	// Recorded (or released) even when the connection closed meanwhile: its
	// client sends the key again, most likely to another node.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(c.Context()), brokerTimeout)
	if out.Err != nil && out.Err.Code == shared.CodeUnavailable {
		// Not a final answer: the same key sent again runs the request
		// again (its publications are not kept twice: Publish).
		if err := run.Release(fctx, out); err != nil {
			s.log.Warn("keyed request: release of its key failed", "conn", c.id, "user", c.user, "id", env.ID, "key", env.Key, "err", err)
		}
	} else if err := run.Finish(fctx, out); err != nil {
		s.onError(c, fmt.Errorf("record outcome of %s from %s: %w", env.Type, c.id, err))
	}
	fcancel()
	s.answer(c, env, out)
}

// runOnce runs the handler h of m with ctx and returns its outcome as the
// client is to see it, the reply encoded. A dependency's failure
// (ErrUnavailable) is logged with the request's id and key: the client sees
// a fixed sentence.
func (s *Server) runOnce(ctx context.Context, c *Conn, env shared.Envelope, h handlerFunc, m shared.Message) broker.Outcome {
	reply, err := s.call(ctx, c, h, m)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			s.log.Warn("request not applied: a dependency is unavailable", "conn", c.id, "user", c.user, "type", env.Type, "id", env.ID, "key", env.Key, "err", err)
		}
		s.onError(c, fmt.Errorf("handle %s (id %d) from %s: %w", env.Type, env.ID, c.id, err))
		return broker.Outcome{Err: wireError(err)}
	}
	if reply == nil {
		return broker.Outcome{}
	}
	data, err := json.Marshal(reply)
	if err != nil {
		s.onError(c, fmt.Errorf("reply to %s: %w", env.Type, err))
		return broker.Outcome{Err: &shared.Error{Code: shared.CodeInternal, Message: "the reply could not be encoded"}}
	}
	return broker.Outcome{Type: reply.MessageType(), Data: data}
}

// answer sends the outcome of the request in env: the reply message, reply
// ok, or the error.
func (s *Server) answer(c *Conn, env shared.Envelope, out broker.Outcome) {
	switch {
	case out.Err != nil:
		c.holdOrdered(env, out.Err.Code)
		c.sendError(env.ID, out.Err)
	case out.Type != "":
		if err := c.sendEnv(shared.Envelope{ID: env.ID}, rawReply{typ: out.Type, data: out.Data}); err != nil && !errors.Is(err, ErrClosed) {
			s.onError(c, fmt.Errorf("reply to %s: %w", env.Type, err))
			c.sendError(env.ID, &shared.Error{Code: shared.CodeInternal, Message: "the reply could not be encoded"})
		}
	default:
		c.replyOK(env.ID)
	}
}

// call runs h, turning a panic into an internal error so that one bad
// message does not take the server down.
func (s *Server) call(ctx context.Context, c *Conn, h handlerFunc, m shared.Message) (reply shared.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "conn", c.id, "type", m.MessageType(), "panic", p)
			reply, err = nil, &shared.Error{Code: shared.CodeInternal, Message: "internal error"}
		}
	}()
	return h(ctx, c, m)
}

// replyOK acknowledges a request that has no reply message.
func (c *Conn) replyOK(reqID uint64) {
	if reqID != 0 {
		_ = c.sendEnv(shared.Envelope{ID: reqID}, shared.Reply{OK: true})
	}
}

// sendError queues an error message about request reqID (0: none).
func (c *Conn) sendError(reqID uint64, e *shared.Error) {
	_ = c.sendEnv(shared.Envelope{ID: reqID}, *e)
}

// refresh replaces the connection's token in-band (docs/protocol.md §4):
// the new token must verify and name the same user; the connection's expiry
// moves to the new one's.
func (s *Server) refresh(c *Conn, reqID uint64, m shared.Refresh) {
	if s.cfg.VerifyToken == nil {
		c.sendError(reqID, &shared.Error{Code: shared.CodeNoHandler,
			Message: "this server does not take tokens in-band: reconnect with a fresh token"})
		return
	}
	id, err := s.cfg.VerifyToken(m.Token)
	switch {
	case err != nil:
		c.sendError(reqID, &shared.Error{Code: shared.CodeUnauthorized, Message: "refresh: " + err.Error(), Field: "data.token"})
		return
	case id.User != c.user:
		c.sendError(reqID, &shared.Error{Code: shared.CodeForbidden, Field: "data.token",
			Message: fmt.Sprintf("refresh: the token is for user %q, this connection is %q's", id.User, c.user)})
		return
	case !id.Expires.IsZero() && !s.now().Before(id.Expires):
		c.sendError(reqID, &shared.Error{Code: shared.CodeUnauthorized, Message: "refresh: token expired", Field: "data.token"})
		return
	}
	if !c.moveExpiry(id.Expires) {
		return // closing: the old token expired first
	}
	s.log.Debug("token refreshed", "conn", c.id, "user", c.user, "expires", id.Expires)
	_ = c.sendEnv(shared.Envelope{ID: reqID}, shared.Refreshed{ExpiresMS: unixMS(id.Expires)})
}

// unixMS is t in Unix milliseconds, 0 for the zero time.
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
