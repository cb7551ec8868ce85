package client

import (
	"context"
	"fmt"
	"time"

	"github.com/tetherkit/tether/shared"
)

// minRefreshWait bounds how often the client tries to refresh a token.
const minRefreshWait = time.Second

// Refresh replaces the open connection's token with token, without
// reconnecting (docs/protocol.md §4): the server checks it like a
// handshake's token and moves the connection's expiry, which Refresh
// returns (zero: never). It fails with a *shared.Error (unauthorized,
// forbidden, no_handler) when the server refuses, and like Request when the
// client is not Open. Clients with Config.Token need not call it.
func (c *Client) Refresh(ctx context.Context, token string) (time.Time, error) {
	r, err := Request[shared.Refreshed](ctx, c, shared.Refresh{Token: token})
	if err != nil {
		return time.Time{}, err
	}
	return fromUnixMS(r.ExpiresMS), nil
}

// keepToken refreshes cn's token with Config.Token before it expires: at
// four fifths of the time left, again and again until cn ends. A refresh
// that fails is tried again at four fifths of the time then left (at least
// a second later); when the token expires anyway, the server closes with
// 1008 and the client reconnects.
func (c *Client) keepToken(cn *conn, expires time.Time) {
	for !expires.IsZero() {
		left := time.Until(expires)
		if left <= 0 {
			return
		}
		if !sleepCtx(cn.ctx, max(left*4/5, minRefreshWait)) {
			return
		}
		exp, err := c.refreshOn(cn)
		switch {
		case cn.ctx.Err() != nil:
			return
		case err != nil:
			c.log.Warn("tether client: token refresh failed", "err", err, "expires", expires)
		default:
			c.log.Debug("tether client: token refreshed", "expires", exp)
			expires = exp
		}
	}
}

// refreshOn gets a token from Config.Token and sends it on cn.
func (c *Client) refreshOn(cn *conn) (time.Time, error) {
	ctx, cancel := context.WithTimeout(cn.ctx, c.opts.RequestTimeout)
	defer cancel()
	token, err := c.opts.Token(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("refresh: get a token: %w", err)
	}
	env, err := c.roundTrip(ctx, cn, shared.Refresh{Token: token})
	if err != nil {
		return time.Time{}, err
	}
	r, err := decodeReply[shared.Refreshed](shared.TypeOf[shared.Refresh](), env)
	if err != nil {
		return time.Time{}, err
	}
	return fromUnixMS(r.ExpiresMS), nil
}

// fromUnixMS is the time of Unix milliseconds ms, the zero time for 0.
func fromUnixMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
