package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// Request sends req with a fresh request id and returns the server's reply
// decoded as Resp. When the client is not Open yet (or is reconnecting),
// Request first waits for the connection, within the same time limit.
//
// Errors: a *shared.Error (match with errors.As) when the server answered
// with an error message, or the client gave up: code shared.CodeTimeout when
// no reply came before ctx's deadline or Config.RequestTimeout, whichever is
// first (errors.Is(err, context.DeadlineExceeded) holds for it too), and
// shared.CodeClosed when the connection was lost or the client
// closed before the reply. A reply of another type than Resp is a
// *shared.DecodeError (ErrUnknownType); a cancelled ctx returns ctx's error.
//
// With Retry, a request whose connection is lost before the reply is sent
// again on the next connection, with the same idempotency key, so the server
// runs it once (docs/protocol.md §3); it then fails with code closed only
// when the client closed.
//
// Request must not be called synchronously from a handler: the reply is read
// by the goroutine that runs the handler.
func Request[Resp shared.Message](ctx context.Context, c *Client, req shared.Message, opts ...RequestOption) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var ro requestOptions
	for _, o := range opts {
		o(&ro)
	}
	if ro.retry {
		env, err := c.retryRoundTrip(ctx, req)
		if err != nil {
			var zero Resp
			return zero, err
		}
		return decodeReply[Resp](req.MessageType(), env)
	}
	cn, err := c.waitOpen(ctx, req.MessageType())
	if err != nil {
		var zero Resp
		return zero, err
	}
	env, err := c.roundTrip(ctx, cn, req)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return decodeReply[Resp](req.MessageType(), env)
}

// roundTrip sends req on cn and waits for its reply envelope.
func (c *Client) roundTrip(ctx context.Context, cn *conn, req shared.Message) (shared.Envelope, error) {
	cl, err := cn.send(ctx, c.nextID.Add(1), req)
	if err != nil {
		return shared.Envelope{}, err
	}
	return cn.wait(ctx, cl)
}

// decodeReply turns a reply envelope into Resp, or into a *shared.Error when
// the server answered with an error.
func decodeReply[Resp shared.Message](reqType string, env shared.Envelope) (Resp, error) {
	var zero Resp
	if env.Type == shared.TypeOf[shared.Error]() {
		e, err := shared.Unmarshal[shared.Error](env)
		if err != nil {
			return zero, fmt.Errorf("%s request: undecodable error reply: %w", reqType, err)
		}
		return zero, &e
	}
	resp, err := shared.Unmarshal[Resp](env)
	if err != nil {
		return zero, fmt.Errorf("%s request: reply: %w", reqType, err)
	}
	return resp, nil
}

// waitOpen returns the open connection, waiting for one while the client is
// connecting or reconnecting.
func (c *Client) waitOpen(ctx context.Context, reqType string) (*conn, error) {
	for {
		c.mu.Lock()
		cn, state, changed := c.conn, c.state, c.changed
		closing := c.closed
		c.mu.Unlock()
		var he *HandshakeError
		switch {
		case cn != nil:
			return cn, nil
		case state.State == Closed && errors.As(state.Err, &he):
			return nil, fmt.Errorf("%s request: %w", reqType, he)
		case state.State == Closed || closing:
			return nil, closedError(reqType)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctxError(ctx, reqType)
		}
	}
}

// closedError is the error of a request abandoned because the connection
// ended first.
func closedError(reqType string) *shared.Error {
	return &shared.Error{Code: shared.CodeClosed,
		Message: fmt.Sprintf("the connection closed before the reply to %s", reqType)}
}

// ctxError is the error of a request abandoned because ctx is done: a
// timeout *shared.Error wrapping ctx's error for a deadline, ctx's error
// otherwise.
func ctxError(ctx context.Context, reqType string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &shared.Error{Code: shared.CodeTimeout,
			Message: fmt.Sprintf("no reply to %s in time", reqType), Err: ctx.Err()}
	}
	return fmt.Errorf("%s request: %w", reqType, ctx.Err())
}

// RequestOption changes how Request sends its request.
type RequestOption func(*requestOptions)

type requestOptions struct {
	retry bool
}

// Retry makes Request send the request again, with the same idempotency key,
// when the connection is lost before the reply or the server did not run it
// now (rate_limited, or unavailable: a dependency of the server failed),
// until the reply arrives or the request's time is up.
// The server runs it at most once (docs/protocol.md §3), so retrying a
// chat.send never doubles it. A retried request waits for the rooms to be
// rejoined after a reconnect before it is sent.
func Retry() RequestOption {
	return func(o *requestOptions) { o.retry = true }
}

// retryRoundTrip sends req with a fresh idempotency key on the open (and
// rejoined) connection, again on the next one when the connection is lost,
// until it has an answer or ctx ends.
func (c *Client) retryRoundTrip(ctx context.Context, req shared.Message) (shared.Envelope, error) {
	key := c.newKey()
	for {
		cn, err := c.waitOpen(ctx, req.MessageType())
		if err != nil {
			return shared.Envelope{}, err
		}
		select {
		case <-cn.ready:
		case <-cn.done:
			continue // c.conn was cleared before done closed
		case <-ctx.Done():
			return shared.Envelope{}, ctxError(ctx, req.MessageType())
		}
		cl, err := cn.sendKeyed(ctx, c.nextID.Add(1), key, req, false)
		var env shared.Envelope
		if err == nil {
			env, err = cn.wait(ctx, cl)
		}
		switch {
		case ctx.Err() != nil:
			return shared.Envelope{}, ctxError(ctx, req.MessageType())
		case err != nil && cn.ctx.Err() != nil:
			// The connection ended: send again on the next one, once this
			// one is no longer the client's open connection.
			select {
			case <-cn.done:
			case <-ctx.Done():
				return shared.Envelope{}, ctxError(ctx, req.MessageType())
			}
			continue
		case err != nil:
			return shared.Envelope{}, err
		case sendAgain(env):
			if !sleepCtx(ctx, sendAgainPause) {
				return shared.Envelope{}, ctxError(ctx, req.MessageType())
			}
			continue
		}
		return env, nil
	}
}
