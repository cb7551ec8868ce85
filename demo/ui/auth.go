package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// Signing in with the server's login endpoints (docs/security.md §3): POST
// /auth/guest sets an HttpOnly cookie that the browser sends with the
// WebSocket handshake by itself, so the app never sees the token. A server
// without /auth/ (404) takes the ?user=&name= placeholder of
// docs/protocol.md §1 instead.
//
// The cookie expires (12 h by default) and dies with a server restarted
// without a configured secret. keepToken refreshes it before it expires; when
// reconnecting keeps failing, probe checks it and signs in again, because a
// browser never learns why a WebSocket handshake failed (a 401 looks like
// any other failure: close code 1006).

// Login endpoints.
const (
	pathGuest   = "/auth/guest"
	pathRefresh = "/auth/refresh"
	pathLogout  = "/auth/logout"
	pathMe      = "/auth/me"
)

// probeEvery bounds how often a failing reconnection checks the cookie.
const probeEvery = 5 * time.Second

// authSession is the answer of the login endpoints.
type authSession struct {
	User    string    `json:"user"`
	Name    string    `json:"name"`
	Expires time.Time `json:"expires"`
	Token   string    `json:"token"`
}

// errNoAuth means the server has no login endpoints.
var errNoAuth = errors.New("no login endpoints")

// SignIn signs in as nick on the server that served page and connects. With
// resume it first reuses a login cookie that is still valid (a reload, a
// second tab). It blocks on HTTP requests: call it from a goroutine. It
// returns why it failed, or "".
func (s *Session) SignIn(ctx context.Context, nick string, page *url.URL, resume bool) string {
	s.mu.Lock()
	s.signingIn, s.problem = true, ""
	s.mu.Unlock()
	s.status.changed()

	base := socketURL(page, "", "")
	var sess authSession
	var err error
	if resume {
		sess, err = s.authCall(ctx, "GET", pathMe, nil)
	}
	if !resume || err != nil {
		sess, err = s.authCall(ctx, "POST", pathGuest, map[string]string{"name": nick})
	}
	switch {
	case errors.Is(err, errNoAuth):
		s.forgetLogin()
		s.Login(nick, socketURL(page, userID(nick), nick))
		sess.User = userID(nick)
	case err != nil:
		s.mu.Lock()
		s.signingIn, s.problem = false, err.Error()
		s.mu.Unlock()
		s.status.changed()
		return err.Error()
	default:
		if sess.Expires.IsZero() {
			sess.Expires = time.Now().Add(time.Hour)
		}
		s.saveLogin(nick, sess)
		s.login(orDefault(sess.Name, nick), base, sess.Expires)
	}
	if !resume { // a sign-in of the user's own: the other tabs follow
		s.tellTabs(tabEvent{Kind: tabSignedIn, Nick: nick, User: sess.User})
	}
	return ""
}

// SignOut forgets the login cookie and disconnects, in every tab of the
// app in this browser.
func (s *Session) SignOut() {
	s.mu.Lock()
	cookie := !s.expires.IsZero()
	user := s.user
	s.mu.Unlock()
	s.dropOutbox()
	s.forgetLogin()
	s.Logout()
	s.tellTabs(tabEvent{Kind: tabSignedOut, User: user})
	if cookie {
		go s.call(context.Background(), "POST", pathLogout, nil)
	}
}

// dropOutbox forgets the chat lines still waiting to be sent, also those
// kept in the browser's storage for the next page: signing out drops them.
func (s *Session) dropOutbox() {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl == nil {
		return
	}
	if err := cl.DropOutbox(); err != nil {
		s.log.Warn("tether ui: cannot drop the stored outbox", "err", err)
	}
}

// authCall calls a login endpoint and decodes its session.
func (s *Session) authCall(ctx context.Context, method, path string, body any) (authSession, error) {
	r := s.call(ctx, method, path, body)
	switch {
	case r.Err != nil:
		return authSession{}, errors.New(r.Problem())
	case r.Status == 404:
		return authSession{}, errNoAuth
	case r.Status != 200:
		return authSession{}, errors.New(r.Problem())
	}
	var sess authSession
	if err := json.Unmarshal(r.Body, &sess); err != nil || sess.User == "" {
		return authSession{}, errors.New("unexpected answer from " + path)
	}
	return sess, nil
}

// renewToken gets a fresh cookie: a refresh of the current one or, when
// that is refused (expired, or the server's secret changed), a new guest
// login under the same nickname.
func (s *Session) renewToken(ctx context.Context, nick string) (authSession, error) {
	sess, err := s.authCall(ctx, "POST", pathRefresh, nil)
	if err != nil {
		sess, err = s.authCall(ctx, "POST", pathGuest, map[string]string{"name": nick})
	}
	if err != nil {
		return authSession{}, err
	}
	s.mu.Lock()
	mine := s.ctx == ctx
	if mine {
		s.expires = sess.Expires
	}
	s.mu.Unlock()
	if mine && !sess.Expires.IsZero() {
		s.saveLogin(nick, sess)
	}
	return sess, nil
}

// keepToken refreshes the login cookie shortly before it expires, until ctx
// (the login's) is done, and hands the fresh token to the open connection
// in-band (client.Refresh), so that it is not closed at the old expiry. When
// that fails (e.g. the refresh became a new guest login, another user) the
// server closes the connection at the old expiry (1008) and it reconnects at
// once with the new cookie.
func (s *Session) keepToken(ctx context.Context, nick string, expires time.Time) {
	for {
		t := time.NewTimer(refreshDelay(expires, time.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		sess, err := s.renewToken(ctx, nick)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("tether ui: could not refresh the login", "err", err)
			expires = time.Now().Add(refreshMargin + 30*time.Second) // try again in 30 s
		default:
			expires = sess.Expires
			s.mu.Lock()
			cl := s.cl
			s.mu.Unlock()
			if cl != nil && sess.Token != "" {
				if _, err := cl.Refresh(ctx, sess.Token); err != nil {
					s.log.Debug("tether ui: in-band token refresh refused; reconnecting at expiry instead", "err", err)
				}
			}
		}
	}
}

// refreshMargin is how long before expiry the cookie is refreshed.
const refreshMargin = 5 * time.Minute

// refreshDelay is the wait before refreshing a cookie that expires at exp:
// refreshMargin before, or a tenth of the time left if that is shorter.
func refreshDelay(exp, now time.Time) time.Duration {
	left := exp.Sub(now)
	margin := min(refreshMargin, left/10)
	return max(left-margin, time.Second)
}

// probe runs when reconnecting fails with a login cookie: if the server
// says the cookie is no good, it gets a new one and reconnects at once.
func (s *Session) probe(ctx context.Context, cl *client.Client, nick string) {
	defer func() {
		s.mu.Lock()
		s.probing, s.probedAt = false, time.Now()
		s.mu.Unlock()
	}()
	r := s.call(ctx, "GET", pathMe, nil)
	if r.Err == nil && r.Status == 200 {
		// The cookie is fine: is the user banned? Then stop trying.
		s.mu.Lock()
		wsURL := s.wsURL
		s.mu.Unlock()
		if why := s.banCheck(ctx, wsURL); why != "" {
			s.mu.Lock()
			mine := s.cl == cl
			if mine {
				s.banned = why
			}
			s.mu.Unlock()
			if mine {
				_ = cl.Close()
			}
			s.status.changed()
		}
		return
	}
	if r.Err != nil || r.Status != 401 {
		return // the server is down
	}
	if _, err := s.renewToken(ctx, nick); err == nil {
		cl.Reconnect()
	}
}

// signInAgain gets a fresh login cookie after the server refused the old
// one at the handshake (401), which ended cl's Run, and connects again with
// it, unless the session moved on (a logout, another login) meanwhile.
func (s *Session) signInAgain(ctx context.Context, cl *client.Client, nick string) {
	sess, err := s.renewToken(ctx, nick)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("tether ui: the login cookie was refused and signing in again failed", "err", err)
			s.mu.Lock()
			if s.cl == cl {
				s.problem = err.Error()
			}
			s.mu.Unlock()
			s.status.changed()
		}
		return
	}
	s.mu.Lock()
	mine := s.cl == cl && s.ctx == ctx
	wsURL := s.wsURL
	s.mu.Unlock()
	if !mine {
		return
	}
	s.login(orDefault(sess.Name, nick), wsURL, sess.Expires)
}

// banCheck asks the WebSocket endpoint at wsURL, over plain HTTP, whether it
// would refuse this user as banned, and returns the server's sentence if so.
func (s *Session) banCheck(ctx context.Context, wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil {
		return ""
	}
	r := s.call(ctx, "GET", u.RequestURI(), nil)
	if r.Err != nil || r.Status != 403 {
		return ""
	}
	var e shared.Error
	if json.Unmarshal(r.Body, &e) != nil || e.Code != codeBanned {
		return ""
	}
	return orDefault(e.Message, "banned")
}

// codeBanned is the error code of a handshake refused to a banned user
// (docs/protocol.md §1).
const codeBanned = "banned"
