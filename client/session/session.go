// Package session signs a web app's user in and out with the server's login
// endpoints (server/auth, docs/security.md §3) and tells the page where its
// WebSocket is. It compiles for js/wasm without linking the server: the
// endpoints' bodies are shared/authwire's, and the requests go through the
// browser's fetch.
//
// In a browser the login lives in an HttpOnly cookie that the page never
// sees: the browser sends it with every request to the origin and with the
// WebSocket handshake, so a client.Client dialing Login.WebSocketURL needs
// no token in its URL. Outside a page (tests, tools, Node.js) a Login keeps
// the last token it got and sends it as Authorization: Bearer.
//
// A page that starts:
//
//	login, err := session.New("")    // the page's own server
//	me, err := login.Me(ctx)          // signed in already (a reload, a second tab)?
//	if errors.Is(err, session.ErrSignedOut) {
//		me, err = login.Guest(ctx, "Alice")
//	}
//	c, err := client.New(client.Config{URL: login.WebSocketURL(), Registry: reg, Token: login.Token})
package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/tetherkit/tether/internal/fetch"
	"github.com/tetherkit/tether/shared"
	"github.com/tetherkit/tether/shared/authwire"
)

// DefaultWebSocketPath is the path of the server's WebSocket endpoint that
// WebSocketURL uses.
const DefaultWebSocketPath = "/ws"

// ErrSignedOut is the cause (errors.Is) of every error for an HTTP 401: no
// login, an expired one, or one the server no longer accepts (its secret
// changed).
var ErrSignedOut = errors.New("signed out")

// Login talks to one server's login endpoints. Its methods block on HTTP:
// in a browser, call them from a goroutine, never from an event handler.
// A Login is safe for concurrent use.
type Login struct {
	base   *url.URL // the server's root: scheme and host
	cookie bool     // in a page: the login cookie does the work, no Bearer

	mu    sync.Mutex
	token string // outside a browser: the last token, sent as Bearer
}

// New returns a Login for the server at serverURL ("http://host:port" or
// "https://host"; a path is ignored). "" means the page's own origin in a
// browser, and is an error elsewhere.
func New(serverURL string) (*Login, error) {
	if serverURL == "" {
		serverURL = pageOrigin()
		if serverURL == "" {
			return nil, errors.New("session: the server URL is required outside a browser")
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("session: server URL %q: %w", serverURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("session: server URL %q: want http://host[:port] or https://host[:port]", serverURL)
	}
	return &Login{base: &url.URL{Scheme: u.Scheme, Host: u.Host}, cookie: pageOrigin() != ""}, nil
}

// WebSocketURL is the URL of the server's WebSocket endpoint at
// DefaultWebSocketPath: ws:// for a server on http, wss:// for one on https.
func (l *Login) WebSocketURL() string {
	return WebSocketURL(l.base.String(), DefaultWebSocketPath)
}

// WebSocketURL turns an http(s) URL (a page's, a server's) into the
// ws(s) URL of path on the same host: "https://example.com/poll" and "/ws"
// give "wss://example.com/ws". A URL that is neither http nor https is
// returned with path and no scheme change.
func WebSocketURL(pageURL, path string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		return path
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
}

// Me returns the signed-in user: the identity of the login cookie (the
// Bearer token outside a browser). It fails with ErrSignedOut (errors.Is)
// when there is none or the server refuses it. Its Token is empty.
func (l *Login) Me(ctx context.Context) (authwire.Session, error) {
	return l.call(ctx, "GET", authwire.PathMe, nil)
}

// Guest signs in as a new guest user named name (1–32 printable
// characters) and returns it. A name the server refuses is a *shared.Error
// with Code "bad_data" and Field "name"; a server with guest login off
// answers "forbidden".
func (l *Login) Guest(ctx context.Context, name string) (authwire.Session, error) {
	return l.call(ctx, "POST", authwire.PathGuest, authwire.GuestRequest{Name: name})
}

// Refresh gets a fresh token for the signed-in user (the server accepts
// one that expired less than 2 minutes ago) and returns it; ErrSignedOut
// when the login is gone.
func (l *Login) Refresh(ctx context.Context) (authwire.Session, error) {
	return l.call(ctx, "POST", authwire.PathRefresh, nil)
}

// Token refreshes the login and returns the fresh token: give it as
// client.Config.Token, and an open connection is refreshed in-band before
// its token expires instead of being closed (the server needs
// server.Config.VerifyToken).
func (l *Login) Token(ctx context.Context) (string, error) {
	s, err := l.Refresh(ctx)
	if err != nil {
		return "", err
	}
	return s.Token, nil
}

// SignOut forgets the login: the server clears the cookie. Connections
// already open stay open until their token expires; close the client too.
func (l *Login) SignOut(ctx context.Context) error {
	r, err := l.do(ctx, "POST", authwire.PathLogout, nil)
	if err != nil {
		return err
	}
	l.setToken("")
	if r.Status != 204 && r.Status != 200 {
		return answerError(authwire.PathLogout, r)
	}
	return nil
}

// call makes a request that answers a Session.
func (l *Login) call(ctx context.Context, method, path string, body any) (authwire.Session, error) {
	r, err := l.do(ctx, method, path, body)
	if err != nil {
		return authwire.Session{}, err
	}
	if r.Status != 200 {
		if r.Status == 401 {
			l.setToken("")
		}
		return authwire.Session{}, answerError(path, r)
	}
	var s authwire.Session
	if err := json.Unmarshal(r.Body, &s); err != nil || s.User == "" {
		return authwire.Session{}, fmt.Errorf("session: %s answered what is not a session: %.80q", path, r.Body)
	}
	if s.Token != "" {
		l.setToken(s.Token)
	}
	return s, nil
}

func (l *Login) do(ctx context.Context, method, path string, body any) (fetch.Response, error) {
	req := fetch.Request{Method: method, URL: l.base.String() + path, Header: map[string]string{"Accept": "application/json"}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fetch.Response{}, fmt.Errorf("session: %s: %w", path, err)
		}
		req.Body = b
		req.Header["Content-Type"] = "application/json"
	}
	if !l.cookie {
		l.mu.Lock()
		if l.token != "" {
			req.Header["Authorization"] = "Bearer " + l.token
		}
		l.mu.Unlock()
	}
	r, err := fetch.Do(ctx, req)
	if err != nil {
		return fetch.Response{}, fmt.Errorf("session: %w", err)
	}
	return r, nil
}

func (l *Login) setToken(t string) {
	if l.cookie {
		return // the cookie holds it
	}
	l.mu.Lock()
	l.token = t
	l.mu.Unlock()
}

// answerError is the *shared.Error of an HTTP error answer: the body's
// {"error":{…}} when it has one, ErrSignedOut its cause for a 401.
func answerError(path string, r fetch.Response) error {
	var body authwire.ErrorBody
	e := &shared.Error{}
	if dec := json.NewDecoder(bytes.NewReader(r.Body)); dec.Decode(&body) == nil && body.Error.Code != "" {
		*e = body.Error
	} else {
		e.Code, e.Message = shared.CodeInternal, fmt.Sprintf("%s answered HTTP %d", path, r.Status)
		if r.Status == 404 {
			e.Code, e.Message = shared.CodeNotFound, "this server has no login endpoints at "+path
		}
	}
	if r.Status == 401 {
		e.Code = authwire.CodeUnauthorized
		e.Err = ErrSignedOut
	}
	return e
}
