//go:build !js

package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/auth"
	"github.com/tetherkit/tether/shared"
)

// TestSignInWithLoginCookie signs in the way the browser does, against a
// server with token authentication: guest login, cookie on the handshake,
// resume from the cookie, and a new login when the server's secret changes
// (a restart without a configured secret).
func TestSignInWithLoginCookie(t *testing.T) {
	var current atomic.Pointer[auth.Auth]
	current.Store(newGuestAuth(t))
	var mu sync.Mutex
	var conns []*server.Conn
	ts := tethertest.NewServer(t, server.Config{
		Authenticate: func(r *http.Request) (server.Identity, error) { return current.Load().Authenticate(r) },
		OnConnect: func(_ context.Context, e server.ConnectEvent) error {
			c := e.Conn
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			return nil
		},
	}, func(s *tethertest.Server) {
		s.Mux.Handle("/auth/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			current.Load().Handler().ServeHTTP(w, r)
		}))
	})
	hs := ts.HTTP
	page, _ := url.Parse(hs.URL + "/")

	// A browser: one cookie jar for fetch and for the WebSocket handshake.
	jar, _ := cookiejar.New(nil)
	browser := func() *Session { return jarSession(t, hs.URL, jar) }

	tab1 := browser()
	if msg := tab1.SignIn(context.Background(), "Alice", page, false); msg != "" {
		t.Fatalf("SignIn: %s", msg)
	}
	waitFor(t, tab1, "tab 1 connected", func() bool { return tab1.Status().Info.State == client.Open })
	first := tab1.Status().User
	if !strings.HasPrefix(first, "alice-") {
		t.Fatalf("user = %q, want the server's guest id alice-…", first)
	}

	// A second tab (or a reload) reuses the cookie: the same user.
	tab2 := browser()
	if msg := tab2.SignIn(context.Background(), "Alice", page, true); msg != "" {
		t.Fatalf("resume: %s", msg)
	}
	waitFor(t, tab2, "tab 2 connected", func() bool { return tab2.Status().Info.State == client.Open })
	if got := tab2.Status().User; got != first {
		t.Errorf("resumed as %q, want %q", got, first)
	}
	tab2.Logout()

	// The server "restarts" with a new secret: the cookie is no good any
	// more, so reconnecting fails until the session signs in again.
	current.Store(newGuestAuth(t))
	mu.Lock()
	for _, c := range conns {
		c.Close(shared.CloseGoingAway, "restart")
	}
	mu.Unlock()
	waitFor(t, tab1, "tab 1 reconnected with a new login", func() bool {
		st := tab1.Status()
		return st.Info.State == client.Open && st.User != first && strings.HasPrefix(st.User, "alice-")
	})
}

// newGuestAuth returns login endpoints that give guests tokens, under a
// secret of their own: another one is a server restarted without a
// configured secret.
func newGuestAuth(t *testing.T) *auth.Auth {
	t.Helper()
	secret, err := auth.RandomSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Secret: secret, Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// jarSession is a Session of a page of the server at base, in a browser
// whose cookies are jar: its fetches and its WebSocket handshakes share
// them. It reconnects within 100 ms (after a 1001 the default policy waits
// up to 16·MinBackoff, 8 s: longer than waitFor's 5 s) and signs out when
// the test ends.
func jarSession(t *testing.T, base string, jar http.CookieJar) *Session {
	t.Helper()
	page, err := url.Parse(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	s.call = jarCall(base, jar)
	s.dial = func(o client.Config) (*client.Client, error) {
		o.Transport = jarTransport{jar: jar, site: page}
		o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
		return client.New(o)
	}
	t.Cleanup(func() {
		s.SignOut()
		<-s.stopped()
	})
	return s
}

// jarCall is callAPI for tests: net/http with the browser's cookie jar.
func jarCall(base string, jar http.CookieJar) func(context.Context, string, string, any) apiResult {
	hc := &http.Client{Jar: jar}
	return func(ctx context.Context, method, path string, body any) apiResult {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return apiResult{Err: err}
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := hc.Do(req)
		if err != nil {
			return apiResult{Err: err}
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return apiResult{Status: res.StatusCode, Body: b, Err: err}
	}
}

// jarTransport sends the jar's cookies with every handshake, as a browser
// does.
type jarTransport struct {
	jar  http.CookieJar
	site *url.URL
}

func (j jarTransport) Dial(ctx context.Context, u string) (client.Socket, error) {
	h := http.Header{}
	for _, c := range j.jar.Cookies(j.site) {
		h.Add("Cookie", c.String())
	}
	return client.NativeTransport{Header: h}.Dial(ctx, u)
}
