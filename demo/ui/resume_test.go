//go:build !js

package ui

import (
	"context"
	"errors"
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
)

// stuckTransport never completes a handshake: the client stays
// "connecting" until its Run is stopped.
type stuckTransport struct{}

func (stuckTransport) Dial(ctx context.Context, _ string) (client.Socket, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestResumeDecides: Resume connects with a saved login only when the
// saved record is whole and its cookie outlives resumeMargin, and never
// over a session that is logged in; otherwise it leaves the page to ask
// the server, as SignIn with resume does.
func TestResumeDecides(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	page, _ := url.Parse("https://chat.example/danmaku?x=1")
	valid := `{"nick":"Ann","user":"ann-1","expires":"2026-12-07T13:00:00Z"}`
	cases := []struct {
		name     string
		saved    string // "" means nothing saved
		loggedIn bool
		want     bool
	}{
		{"nothing saved", "", false, false},
		{"not JSON", "{", false, false},
		{"no nickname", `{"user":"ann-1","expires":"2026-12-07T13:00:00Z"}`, false, false},
		{"no user", `{"nick":"Ann","expires":"2026-12-07T13:00:00Z"}`, false, false},
		{"no expiry", `{"nick":"Ann","user":"ann-1"}`, false, false},
		{"expired", `{"nick":"Ann","user":"ann-1","expires":"2026-12-07T11:00:00Z"}`, false, false},
		{"expires within the margin", `{"nick":"Ann","user":"ann-1","expires":"2026-12-07T12:04:00Z"}`, false, false},
		{"valid", valid, false, true},
		{"already logged in", valid, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSession()
			var dialed []client.Config
			s.dial = func(o client.Config) (*client.Client, error) {
				dialed = append(dialed, o)
				o.Transport = stuckTransport{}
				return client.New(o)
			}
			s.call = func(context.Context, string, string, any) apiResult {
				t.Error("Resume called the server")
				return apiResult{Err: errors.New("no server")}
			}
			t.Cleanup(func() {
				s.Logout()
				<-s.stopped()
			})
			if tc.saved != "" {
				s.storage.Set(loginKey, tc.saved)
			}
			if tc.loggedIn {
				s.Login("Bob", "wss://chat.example/ws?user=bob&name=Bob")
			}
			before := len(dialed)
			if got := s.resumeAt(page, now); got != tc.want {
				t.Fatalf("resumeAt = %v, want %v", got, tc.want)
			}
			if !tc.want {
				if len(dialed) != before {
					t.Fatalf("it dialed %d times, want none", len(dialed)-before)
				}
				return
			}
			if len(dialed) != 1 || dialed[0].URL != "wss://chat.example/ws" {
				t.Fatalf("dialed %+v, want one client of wss://chat.example/ws", dialed)
			}
			st := s.Status()
			if !st.LoggedIn || st.Nick != "Ann" || st.User != "ann-1" || st.Info.State != client.Connecting {
				t.Errorf("status %+v, want Ann (ann-1) connecting", st)
			}
			s.mu.Lock()
			expires := s.expires
			s.mu.Unlock()
			if want := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC); !expires.Equal(want) {
				t.Errorf("the login's cookie expires %v, want %v (kept fresh from then)", expires, want)
			}
		})
	}
}

// TestResumeWithSavedLogin runs the saved login against a server with
// token authentication, as pages of one browser do (one cookie jar, one
// localStorage): a sign-in saves it; a new page connects with it and
// sends no request first; after the server's secret changed, a page that
// trusted it still ends up connected, as a new guest under the same
// nickname, and saves that login; a sign-out forgets it; a server
// without login endpoints leaves nothing saved.
func TestResumeWithSavedLogin(t *testing.T) {
	var current atomic.Pointer[auth.Auth]
	current.Store(newGuestAuth(t))
	var authOn atomic.Bool
	authOn.Store(true)
	ts := tethertest.NewServer(t, server.Config{
		Authenticate: func(r *http.Request) (server.Identity, error) {
			if !authOn.Load() {
				q := r.URL.Query()
				return server.Identity{User: q.Get("user"), Name: q.Get("name")}, nil
			}
			return current.Load().Authenticate(r)
		},
	}, func(s *tethertest.Server) {
		s.Mux.Handle("/auth/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !authOn.Load() {
				http.NotFound(w, r)
				return
			}
			current.Load().Handler().ServeHTTP(w, r)
		}))
	})
	page, _ := url.Parse(ts.HTTP.URL + "/")
	jar, _ := cookiejar.New(nil)
	storage := &memoryKV{}
	var mu sync.Mutex
	var calls []string
	called := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), calls...)
	}
	browser := func() *Session {
		s := jarSession(t, ts.HTTP.URL, jar)
		s.storage = storage
		call := s.call
		s.call = func(ctx context.Context, method, path string, body any) apiResult {
			mu.Lock()
			calls = append(calls, method+" "+path)
			mu.Unlock()
			return call(ctx, method, path, body)
		}
		return s
	}
	open := func(s *Session) func() bool {
		return func() bool { return s.Status().Info.State == client.Open }
	}

	first := browser()
	if msg := first.SignIn(context.Background(), "Alice", page, false); msg != "" {
		t.Fatalf("SignIn: %s", msg)
	}
	waitFor(t, first, "the first page connected", open(first))
	alice := first.Status().User
	saved, ok := first.savedLogin()
	if !ok || saved.Nick != "Alice" || saved.User != alice || time.Until(saved.Expires) < time.Hour {
		t.Fatalf("saved login %+v (%v), want Alice as %s for hours", saved, ok, alice)
	}
	first.Logout()

	// A reload: connected with the saved login, no request before it.
	mu.Lock()
	calls = nil
	mu.Unlock()
	reload := browser()
	if !reload.Resume(page) {
		t.Fatal("Resume did not use the saved login")
	}
	waitFor(t, reload, "the reloaded page connected", open(reload))
	if got := reload.Status(); got.User != alice || got.Nick != "Alice" {
		t.Errorf("resumed as %s (%s), want %s (Alice)", got.User, got.Nick, alice)
	}
	if c := called(); len(c) != 0 {
		t.Errorf("the reload called %v before it was connected, want nothing", c)
	}
	reload.Logout()

	// The server's secret changed: the saved login still looks valid, the
	// handshake fails, and the page signs in again under the same name.
	current.Store(newGuestAuth(t))
	stale := browser()
	if !stale.Resume(page) {
		t.Fatal("Resume did not use the saved login")
	}
	waitFor(t, stale, "connected again as a new guest", func() bool {
		st := stale.Status()
		return st.Info.State == client.Open && st.User != alice && strings.HasPrefix(st.User, "alice-")
	})
	if again, ok := stale.savedLogin(); !ok || again.User != stale.Status().User {
		t.Errorf("saved login %+v after signing in again, want user %s", again, stale.Status().User)
	}

	// Signing out forgets it.
	stale.SignOut()
	if l, ok := stale.savedLogin(); ok {
		t.Errorf("saved login %+v after a sign-out, want none", l)
	}
	if browser().Resume(page) {
		t.Error("Resume connected after a sign-out")
	}

	// A server without login endpoints: the placeholder login is not saved.
	storage.Set(loginKey, `{"nick":"Old","user":"old-1","expires":"2099-01-01T00:00:00Z"}`)
	authOn.Store(false)
	noAuth := browser()
	if msg := noAuth.SignIn(context.Background(), "Bob", page, false); msg != "" {
		t.Fatalf("SignIn without login endpoints: %s", msg)
	}
	waitFor(t, noAuth, "connected with the placeholder", open(noAuth))
	if l, ok := noAuth.savedLogin(); ok {
		t.Errorf("saved login %+v on a server without login endpoints, want none", l)
	}
}
