package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/client/session"
	"github.com/tetherkit/tether/server/auth"
	"github.com/tetherkit/tether/shared"
)

// loginServer serves the login endpoints of an auth.Auth on 127.0.0.1.
func loginServer(t *testing.T, guest bool) (*httptest.Server, *auth.Auth) {
	t.Helper()
	secret, err := auth.RandomSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Secret: secret, Guest: guest})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, a
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		url, wantWS, wantErr string
	}{
		{url: "http://127.0.0.1:8080", wantWS: "ws://127.0.0.1:8080/ws"},
		{url: "https://example.com/some/page?x=1", wantWS: "wss://example.com/ws"},
		{url: "", wantErr: "required outside a browser"},
		{url: "ftp://example.com", wantErr: "want http://"},
		{url: "example.com", wantErr: "want http://"},
		{url: "http://[::1", wantErr: "server URL"},
	} {
		l, err := session.New(tt.url)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) = %v, want an error with %q", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tt.url, err)
			continue
		}
		if got := l.WebSocketURL(); got != tt.wantWS {
			t.Errorf("New(%q).WebSocketURL() = %q, want %q", tt.url, got, tt.wantWS)
		}
	}
}

func TestWebSocketURL(t *testing.T) {
	for _, tt := range []struct{ page, path, want string }{
		{"http://localhost:8080/", "/ws", "ws://localhost:8080/ws"},
		{"https://poll.example.com/vote#x", "/ws", "wss://poll.example.com/ws"},
		{"https://poll.example.com", "live", "wss://poll.example.com/live"},
	} {
		if got := session.WebSocketURL(tt.page, tt.path); got != tt.want {
			t.Errorf("WebSocketURL(%q, %q) = %q, want %q", tt.page, tt.path, got, tt.want)
		}
	}
}

// TestLoginRoundTrip walks a user through the endpoints: signed out, a
// refused nickname, a guest login, who am I, a refresh, sign-out.
func TestLoginRoundTrip(t *testing.T) {
	ts, a := loginServer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := session.New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := l.Me(ctx); !errors.Is(err, session.ErrSignedOut) {
		t.Fatalf("Me before signing in = %v, want ErrSignedOut", err)
	}
	var se *shared.Error
	if _, err := l.Guest(ctx, "   "); !errors.As(err, &se) || se.Code != shared.CodeBadData || se.Field != "name" {
		t.Fatalf("Guest(blank) = %v, want bad_data on field name", err)
	}
	me, err := l.Guest(ctx, "Alice")
	if err != nil {
		t.Fatalf("Guest: %v", err)
	}
	if me.Name != "Alice" || !strings.HasPrefix(me.User, "alice-") || me.Token == "" || !me.Expires.After(time.Now()) {
		t.Fatalf("Guest = %+v, want Alice with a token and a future expiry", me)
	}
	id, err := a.Verify(me.Token)
	if err != nil || id.User != me.User {
		t.Fatalf("the guest token verifies as %+v, %v; want user %s", id, err, me.User)
	}
	got, err := l.Me(ctx)
	if err != nil || got.User != me.User || got.Name != "Alice" {
		t.Fatalf("Me after Guest = %+v, %v; want %s", got, err, me.User)
	}
	tok, err := l.Token(ctx)
	if err != nil || tok == "" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if id, err := a.Verify(tok); err != nil || id.User != me.User {
		t.Fatalf("refreshed token verifies as %+v, %v; want user %s", id, err, me.User)
	}
	if err := l.SignOut(ctx); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if _, err := l.Me(ctx); !errors.Is(err, session.ErrSignedOut) {
		t.Fatalf("Me after SignOut = %v, want ErrSignedOut", err)
	}
	if _, err := l.Refresh(ctx); !errors.Is(err, session.ErrSignedOut) {
		t.Fatalf("Refresh after SignOut = %v, want ErrSignedOut", err)
	}
}

func TestGuestDisabledAndNoEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts, _ := loginServer(t, false)
	l, _ := session.New(ts.URL)
	var se *shared.Error
	if _, err := l.Guest(ctx, "Bob"); !errors.As(err, &se) || se.Code != shared.CodeForbidden {
		t.Fatalf("Guest on a server without guest login = %v, want forbidden", err)
	}

	bare := httptest.NewServer(http.NotFoundHandler())
	defer bare.Close()
	l, _ = session.New(bare.URL)
	if _, err := l.Me(ctx); !errors.As(err, &se) || se.Code != shared.CodeNotFound {
		t.Fatalf("Me on a server without /auth/ = %v, want not_found", err)
	}

	l, _ = session.New("http://127.0.0.1:1") // nothing listens on port 1
	if _, err := l.Me(ctx); err == nil || errors.Is(err, session.ErrSignedOut) {
		t.Fatalf("Me on a dead server = %v, want a network error that is not ErrSignedOut", err)
	}
}
