package server_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// fakeTokens are "user:expiry-in-unix-ms" tokens: the handshake reads one
// from ?token=, refresh messages carry one.
func fakeTokens() (auth func(*http.Request) (server.Identity, error), verify func(string) (server.Identity, error)) {
	verify = func(token string) (server.Identity, error) {
		user, ms, ok := strings.Cut(token, ":")
		exp, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil {
			return server.Identity{}, errors.New("token is invalid")
		}
		return server.Identity{User: user, Expires: time.UnixMilli(exp)}, nil
	}
	auth = func(r *http.Request) (server.Identity, error) { return verify(r.URL.Query().Get("token")) }
	return auth, verify
}

func token(user string, exp time.Time) string {
	return user + ":" + strconv.FormatInt(exp.UnixMilli(), 10)
}

// TestRefreshInBand: a refresh message with a fresh token of the same user
// moves the connection's expiry without reconnecting (announced in welcome
// and in refreshed); a token that does not verify, or belongs to another
// user, is refused and changes nothing.
func TestRefreshInBand(t *testing.T) {
	auth, verify := fakeTokens()
	e := startServer(t, server.Config{Authenticate: auth, VerifyToken: verify})
	oldExp := time.Now().Add(2 * time.Second)
	c := e.dialURL("ann", e.wsURL("ann")+"&token="+token("ann", oldExp))
	if c.welcome.ExpiresMS != oldExp.UnixMilli() {
		t.Fatalf("welcome expires_ms = %d, want the token's %d", c.welcome.ExpiresMS, oldExp.UnixMilli())
	}
	newExp := time.Now().Add(time.Hour)
	id := c.request(shared.Refresh{Token: token("ann", newExp)})
	if got := expectReply[shared.Refreshed](c, id); got.ExpiresMS != newExp.UnixMilli() {
		t.Fatalf("refreshed expires_ms = %d, want %d", got.ExpiresMS, newExp.UnixMilli())
	}

	for _, tt := range []struct {
		tok, code string
	}{
		{"garbage", shared.CodeUnauthorized},
		{token("bob", time.Now().Add(time.Hour)), shared.CodeForbidden},
		{token("ann", time.Now().Add(-time.Second)), shared.CodeUnauthorized},
	} {
		id := c.request(shared.Refresh{Token: tt.tok})
		if got := expectReply[shared.Error](c, id); got.Code != tt.code || got.Field != "data.token" {
			t.Errorf("refresh with %q = %+v, want %s on data.token", tt.tok, got, tt.code)
		}
	}

	// The old expiry passes: the connection stays open (the refused
	// refreshes did not undo the good one).
	past := time.NewTimer(time.Until(oldExp) + 500*time.Millisecond)
	<-past.C
	c.ping()

	// Moving the expiry closer takes effect too: closed with 1008 then.
	id = c.request(shared.Refresh{Token: token("ann", time.Now().Add(200*time.Millisecond))})
	expectReply[shared.Refreshed](c, id)
	if ce := c.waitClose(); ce.Code != shared.ClosePolicyViolation || ce.Text != "token expired" {
		t.Fatalf("closed with %d %q, want 1008 token expired at the refreshed expiry", ce.Code, ce.Text)
	}
}

// TestRefreshWithoutVerifier: a server without Config.VerifyToken answers
// refresh with no_handler and keeps the connection.
func TestRefreshWithoutVerifier(t *testing.T) {
	e := startServer(t, server.Config{})
	c := e.dial("ann")
	id := c.request(shared.Refresh{Token: "anything"})
	if got := expectReply[shared.Error](c, id); got.Code != shared.CodeNoHandler {
		t.Fatalf("refresh = %+v, want no_handler", got)
	}
	c.ping()
}
