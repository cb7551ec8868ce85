package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetherkit/tether/shared"
)

// Send sends m to the server without waiting for an answer. It returns
// ErrNotConnected (possibly wrapped) when the client is not Open; it does not
// queue messages for later. The server answers a failing message with an
// error message (see On with shared.Error). If ctx ends while the frame is
// being written, the connection is dropped and re-established: a partly
// written frame cannot be taken back.
func (c *Client) Send(ctx context.Context, m shared.Message) error {
	c.mu.Lock()
	cn := c.conn
	c.mu.Unlock()
	if cn == nil {
		return fmt.Errorf("send %s: %w", m.MessageType(), ErrNotConnected)
	}
	if err := cn.write(ctx, shared.Envelope{}, m); err != nil {
		if errors.Is(err, errConnEnded) {
			err = ErrNotConnected
		}
		return fmt.Errorf("send %s: %w", m.MessageType(), err)
	}
	return nil
}

// Request sends req with a fresh request id and returns the server's reply
// decoded as Resp. When the client is not Open yet (or is reconnecting),
// Request first waits for the connection, within the same time limit.
//
// Errors: a *shared.Error (match with errors.As) when the server answered
// with an error message, or the client gave up: code shared.CodeTimeout when
// no reply came before ctx's deadline or Options.RequestTimeout, whichever is
// first (errors.Is(err, context.DeadlineExceeded) holds for it too), and
// shared.CodeClosed when the connection was lost or the client
// closed before the reply. A reply of another type than Resp is a
// *shared.DecodeError (ErrUnknownType); a cancelled ctx returns ctx's error.
//
// Request must not be called synchronously from a handler: the reply is read
// by the goroutine that runs the handler.
func Request[Resp shared.Message](ctx context.Context, c *Client, req shared.Message) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
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
		cn, state, changed := c.conn, c.state.State, c.changed
		closing := c.closed
		c.mu.Unlock()
		switch {
		case cn != nil:
			return cn, nil
		case state == Closed || closing:
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
