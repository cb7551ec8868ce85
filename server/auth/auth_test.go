package auth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/auth"
	"github.com/tetherkit/tether/shared"
	"github.com/tetherkit/tether/shared/authwire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTime bounds every wait of these tests.
const waitTime = 5 * time.Second

var (
	secret      = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	// t0 is the test clock's start, on a whole second.
	t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newAuth returns an Auth on a test clock at t0; cfg's zero Secret and Now
// are filled in.
func newAuth(t *testing.T, cfg auth.Config) (*auth.Auth, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	if cfg.Secret == nil {
		cfg.Secret = secret
	}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return a, clk
}

// sign signs claims with method and key, as an attacker or another system
// would.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign test token: %v", err)
	}
	return tok
}

// goodClaims are the claims of a valid token at t0; change one to break it.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "alice",
		"name": "Alice",
		"iss":  "tether",
		"iat":  t0.Unix(),
		"exp":  t0.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	if v == nil {
		delete(c, key)
	} else {
		c[key] = v
	}
	return c
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     auth.Config
		wantErr string
	}{
		{"defaults", auth.Config{Secret: secret}, ""},
		{"HS512", auth.Config{Secret: secret, Algorithm: "HS512"}, ""},
		{"no secret", auth.Config{}, "at least 32"},
		{"31-byte secret", auth.Config{Secret: secret[:31]}, "at least 32"},
		{"alg none", auth.Config{Secret: secret, Algorithm: "none"}, "not supported"},
		{"RS256", auth.Config{Secret: secret, Algorithm: "RS256"}, "not supported"},
		{"negative TTL", auth.Config{Secret: secret, TTL: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := auth.New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New refused a valid config: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: got error %v, want one mentioning %q", err, tt.wantErr)
			case tt.wantErr == "" && a.TTL() != auth.DefaultTTL:
				t.Errorf("default TTL is %v, want %v", a.TTL(), auth.DefaultTTL)
			}
		})
	}
}

func TestRandomSecret(t *testing.T) {
	s1, err := auth.RandomSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := auth.RandomSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) < auth.MinSecretLen || bytes.Equal(s1, s2) {
		t.Fatalf("RandomSecret gave %d bytes, twice the same: %v; want fresh secrets of at least %d bytes", len(s1), bytes.Equal(s1, s2), auth.MinSecretLen)
	}
	if _, err := auth.New(auth.Config{Secret: s1}); err != nil {
		t.Fatalf("New refuses a RandomSecret: %v", err)
	}
}

func TestIssueVerify(t *testing.T) {
	a, _ := newAuth(t, auth.Config{TTL: 2 * time.Hour})
	tests := []struct {
		user, name string
		wantName   string
	}{
		{"alice", "Alice", "Alice"},
		{"bob", "", "bob"},
		{"u-1.x_Y", "李雷 🚀", "李雷 🚀"},
		{strings.Repeat("a", server.MaxUserLen), strings.Repeat("é", server.MaxNameLen), strings.Repeat("é", server.MaxNameLen)},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			tok, exp, err := a.Issue(tt.user, tt.name)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if want := t0.Add(2 * time.Hour); !exp.Equal(want) {
				t.Errorf("token expires at %v, want now + TTL = %v", exp, want)
			}
			id, err := a.Verify(tok)
			if err != nil {
				t.Fatalf("a token just issued does not verify: %v", err)
			}
			want := server.Identity{User: tt.user, Name: tt.wantName, Expires: exp}
			if id.User != want.User || id.Name != want.Name || !id.Expires.Equal(want.Expires) {
				t.Errorf("Verify = %+v, want %+v", id, want)
			}
		})
	}
}

func TestIssueRefusesBadIdentity(t *testing.T) {
	a, _ := newAuth(t, auth.Config{})
	for _, tt := range []struct{ user, name string }{
		{"", "x"},
		{"has space", "x"},
		{strings.Repeat("a", server.MaxUserLen+1), "x"},
		{"alice", "bell\a"},
		{"alice", strings.Repeat("n", server.MaxNameLen+1)},
	} {
		if _, _, err := a.Issue(tt.user, tt.name); err == nil {
			t.Errorf("Issue(%q, %q) signed a token for an invalid identity", tt.user, tt.name)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	a, clk := newAuth(t, auth.Config{TTL: time.Hour})
	valid, exp, err := a.Issue("alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	otherPayload := strings.Split(sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "sub", "mallory")), ".")[1]

	tests := []struct {
		name  string
		token string
		at    time.Time // the clock when verifying; zero → t0
		want  error
	}{
		{"valid (control)", valid, time.Time{}, nil},
		{"valid just before exp", valid, exp.Add(-time.Second), nil},
		{"expired at exp", valid, exp, auth.ErrTokenExpired},
		{"expired", valid, exp.Add(time.Minute), auth.ErrTokenExpired},
		{"bad signature", sign(t, jwt.SigningMethodHS256, otherSecret, goodClaims()), time.Time{}, auth.ErrTokenInvalid},
		{"payload swapped", parts[0] + "." + otherPayload + "." + parts[2], time.Time{}, auth.ErrTokenInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", time.Time{}, auth.ErrTokenInvalid},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims()), time.Time{}, auth.ErrTokenInvalid},
		{"alg HS512 with the right secret", sign(t, jwt.SigningMethodHS512, secret, goodClaims()), time.Time{}, auth.ErrTokenInvalid},
		{"alg HS384 with the right secret", sign(t, jwt.SigningMethodHS384, secret, goodClaims()), time.Time{}, auth.ErrTokenInvalid},
		{"missing exp", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "exp", nil)), time.Time{}, auth.ErrTokenInvalid},
		{"exp not a number", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "exp", "tomorrow")), time.Time{}, auth.ErrTokenInvalid},
		{"not valid yet (nbf)", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "nbf", t0.Add(time.Minute).Unix())), time.Time{}, auth.ErrTokenInvalid},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "iss", "someone-else")), time.Time{}, auth.ErrTokenInvalid},
		{"missing issuer", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "iss", nil)), time.Time{}, auth.ErrTokenInvalid},
		{"missing sub", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "sub", nil)), time.Time{}, auth.ErrTokenInvalid},
		{"invalid user id", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "sub", "alice bob")), time.Time{}, auth.ErrTokenInvalid},
		{"user id too long", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "sub", strings.Repeat("a", server.MaxUserLen+1))), time.Time{}, auth.ErrTokenInvalid},
		{"name with control characters", sign(t, jwt.SigningMethodHS256, secret, with(goodClaims(), "name", "A\nB")), time.Time{}, auth.ErrTokenInvalid},
		{"empty", "", time.Time{}, auth.ErrTokenInvalid},
		{"garbage", "not.a.token", time.Time{}, auth.ErrTokenInvalid},
		{"too long", valid + strings.Repeat("A", auth.MaxTokenLen), time.Time{}, auth.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			if at.IsZero() {
				at = t0
			}
			clk.Set(at)
			id, err := a.Verify(tt.token)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("a valid token was refused: %v", err)
			case tt.want == nil:
				if id.User != "alice" {
					t.Fatalf("Verify = %+v, want user alice", id)
				}
			case !errors.Is(err, tt.want):
				t.Fatalf("Verify accepted or misjudged a bad token: got %v (identity %+v), want %v", err, id, tt.want)
			case tt.token != "" && strings.Contains(err.Error(), tt.token):
				t.Fatalf("the error repeats the token, which would then be logged: %v", err)
			}
		})
	}
}

// requestWith builds a request carrying tokens in the given places.
func requestWith(header, query, cookie string) *http.Request {
	target := "/ws"
	if query != "" {
		target += "?token=" + url.QueryEscape(query)
	}
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: cookie})
	}
	return r
}

func TestAuthenticateSources(t *testing.T) {
	a, _ := newAuth(t, auth.Config{})
	tok := func(user string) string {
		s, _, err := a.Issue(user, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hdr, qry, ck := tok("from-header"), tok("from-query"), tok("from-cookie")
	bad := sign(t, jwt.SigningMethodHS256, otherSecret, goodClaims())

	tests := []struct {
		name                  string
		header, query, cookie string
		wantUser              string
		wantErr               error
	}{
		{"header beats query and cookie", "Bearer " + hdr, qry, ck, "from-header", nil},
		{"query beats cookie", "", qry, ck, "from-query", nil},
		{"cookie alone", "", "", ck, "from-cookie", nil},
		{"query alone", "", qry, "", "from-query", nil},
		{"scheme is case-insensitive", "bearer " + hdr, "", "", "from-header", nil},
		{"other schemes are ignored", "Basic dXNlcjpwYXNz", "", ck, "from-cookie", nil},
		{"empty bearer is ignored", "Bearer ", "", ck, "from-cookie", nil},
		{"an invalid header token is not skipped", "Bearer " + bad, qry, ck, "", auth.ErrTokenInvalid},
		{"an invalid query token is not skipped", "", bad, ck, "", auth.ErrTokenInvalid},
		{"nothing", "", "", "", "", auth.ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := a.Authenticate(requestWith(tt.header, tt.query, tt.cookie))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Authenticate = %+v, %v; want error %v", id, err, tt.wantErr)
				}
				return
			}
			if err != nil || id.User != tt.wantUser {
				t.Fatalf("Authenticate = %+v, %v; want the token of %s", id, err, tt.wantUser)
			}
		})
	}
}

// wsEnv is a real server authenticating with an Auth, on 127.0.0.1, with
// the login endpoints mounted at /auth/.
type wsEnv struct {
	hs   *httptest.Server
	srv  *server.Server
	logs *tethertest.Buffer // the server's logs, at debug level
}

func startWS(t *testing.T, a *auth.Auth) *wsEnv {
	t.Helper()
	e := &wsEnv{logs: &tethertest.Buffer{}}
	ts := tethertest.NewServer(t, server.Config{
		Authenticate: a.Authenticate,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, func(s *tethertest.Server) { s.Mux.Handle("/auth/", a.Handler()) })
	e.srv, e.hs = ts.Server, ts.HTTP
	return e
}

func (e *wsEnv) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/ws"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial opens a WebSocket with header; on success it returns the welcome.
func (e *wsEnv) dial(t *testing.T, query string, header http.Header) (*websocket.Conn, *http.Response, shared.Welcome, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTime}
	ws, resp, err := d.Dial(e.wsURL(query), header)
	if err != nil {
		return nil, resp, shared.Welcome{}, err
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(waitTime))
	_, frame, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read welcome: %v", err)
	}
	env, err := shared.DecodeEnvelope(frame)
	if err != nil {
		t.Fatalf("decode welcome: %v", err)
	}
	w, err := shared.Unmarshal[shared.Welcome](env)
	if err != nil {
		t.Fatalf("first message is not welcome: %v", err)
	}
	return ws, resp, w, nil
}

func TestHandshake(t *testing.T) {
	// Real time: the server checks Expires against its own clock.
	a, _ := newAuth(t, auth.Config{Now: time.Now, Guest: true})
	e := startWS(t, a)

	valid, _, err := a.Issue("alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	past, _ := newAuth(t, auth.Config{Now: func() time.Time { return time.Now().Add(-24 * time.Hour) }})
	expired, _, err := past.Issue("alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, jwt.SigningMethodHS256, otherSecret, jwt.MapClaims{"sub": "alice", "iss": "tether", "exp": time.Now().Add(time.Hour).Unix()})
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "alice", "iss": "tether", "exp": time.Now().Add(time.Hour).Unix()})

	guestCookie := func() string {
		resp, err := http.Post(e.hs.URL+auth.PathGuest, "application/json", strings.NewReader(`{"name":"Carol"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == auth.DefaultCookieName {
				return c.Name + "=" + c.Value
			}
		}
		t.Fatalf("guest login (%s) set no %s cookie", resp.Status, auth.DefaultCookieName)
		return ""
	}()

	tests := []struct {
		name     string
		query    string
		header   http.Header
		wantCode int // 0: upgraded
		wantUser string
		wantName string
	}{
		{"no token", "", nil, http.StatusUnauthorized, "", ""},
		{"placeholder ?user= is not enough", "user=alice&name=Alice", nil, http.StatusUnauthorized, "", ""},
		{"expired token", "token=" + expired, nil, http.StatusUnauthorized, "", ""},
		{"bad signature", "token=" + forged, nil, http.StatusUnauthorized, "", ""},
		{"alg none", "token=" + none, nil, http.StatusUnauthorized, "", ""},
		{"bad bearer", "", http.Header{"Authorization": {"Bearer " + forged}}, http.StatusUnauthorized, "", ""},
		{"query token", "token=" + valid, nil, 0, "alice", "Alice"},
		{"bearer token", "", http.Header{"Authorization": {"Bearer " + valid}}, 0, "alice", "Alice"},
		{"guest cookie", "", http.Header{"Cookie": {guestCookie}}, 0, "carol-", "Carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, w, err := e.dial(t, tt.query, tt.header)
			if tt.wantCode != 0 {
				if err == nil {
					t.Fatalf("handshake was upgraded (welcome %+v); want HTTP %d before the upgrade", w, tt.wantCode)
				}
				if resp == nil {
					t.Fatalf("handshake failed without an HTTP answer: %v", err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("handshake answered HTTP %d, want %d", resp.StatusCode, tt.wantCode)
				}
				return
			}
			if err != nil {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				t.Fatalf("handshake refused (HTTP %d): %v", status, err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake answered %d, want 101", resp.StatusCode)
			}
			if !strings.HasPrefix(w.User, tt.wantUser) || w.Name != tt.wantName {
				t.Fatalf("welcome is for %q (%q), want %q… (%q)", w.User, w.Name, tt.wantUser, tt.wantName)
			}
		})
	}

	// No token may reach the server's log, whatever happened to it.
	logs := e.logs.String()
	for _, tok := range []string{valid, expired, forged, none, strings.TrimPrefix(guestCookie, auth.DefaultCookieName+"=")} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(logs, tok) || (sig != "" && strings.Contains(logs, sig)) {
			t.Errorf("the server logged a token:\n%s", logs)
			break
		}
	}
}

// TestConnectionClosedAtExpiry checks that a connection does not outlive its
// token: the server closes it with 1008 when the token's exp passes.
func TestConnectionClosedAtExpiry(t *testing.T) {
	// exp has a precision of one second: aim for a whole second 1–2 s away
	// (room for a slow handshake on a loaded machine), and issue the token
	// 300 ms before it.
	const ttl = 300 * time.Millisecond
	exp := time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)
	issuedAt := exp.Add(-ttl)
	// The Auth's clock stays at issuedAt, so the token verifies at the
	// handshake; the server closes the connection by the real clock.
	a, _ := newAuth(t, auth.Config{TTL: ttl, Now: func() time.Time { return issuedAt }})
	e := startWS(t, a)
	tok, gotExp, err := a.Issue("alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	if !gotExp.Equal(exp) {
		t.Fatalf("token expires at %v, want %v", gotExp, exp)
	}
	ws, _, _, err := e.dial(t, "", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("handshake with a token valid for %v refused: %v", time.Until(exp), err)
	}
	_ = ws.SetReadDeadline(exp.Add(waitTime))
	for {
		_, _, err = ws.ReadMessage()
		if err != nil {
			break
		}
	}
	closedAt := time.Now()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("connection with an expired token was not closed with a close frame by %v: %v", exp.Add(waitTime), err)
	}
	if ce.Code != shared.ClosePolicyViolation {
		t.Fatalf("connection closed with %d %q, want 1008 (token expired)", ce.Code, ce.Text)
	}
	// The server's timer may fire a little early only by clock granularity.
	if closedAt.Before(exp.Add(-50 * time.Millisecond)) {
		t.Fatalf("connection closed at %v, %v before its token expired", closedAt, exp.Sub(closedAt))
	}
	t.Logf("closed %v after exp with %d %q", closedAt.Sub(exp), ce.Code, ce.Text)
}

// do sends a request to h and returns the recorder.
func do(h http.Handler, method, path, contentType, body string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode reads a JSON answer into v.
func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", w.Code, err, w.Body)
	}
}

// loginCookie is the login cookie set by w, or nil.
func loginCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == auth.DefaultCookieName {
			return c
		}
	}
	return nil
}

var guestUser = regexp.MustCompile(`^([a-z0-9-]+)-[a-z2-7]{6}$`)

func TestGuestLogin(t *testing.T) {
	for _, tt := range []struct {
		name       string
		secure     bool   // Config.Secure
		proto      string // X-Forwarded-Proto
		wantSecure bool
	}{
		{"plain HTTP", false, "", false},
		{"Config.Secure", true, "", true},
		{"behind a TLS proxy", false, "https", true},
		{"behind a plain proxy", false, "http", false},
	} {
		a, _ := newAuth(t, auth.Config{Guest: true, TTL: 2 * time.Hour, Secure: tt.secure})
		r := httptest.NewRequest(http.MethodPost, auth.PathGuest, strings.NewReader(`{"name":"  Alice  "}`))
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("guest login: %d %s", w.Code, w.Body)
		}
		var s authwire.Session
		decode(t, w, &s)
		if m := guestUser.FindStringSubmatch(s.User); m == nil || m[1] != "alice" || s.Name != "Alice" {
			t.Errorf("guest Alice got user %q name %q; want alice-xxxxxx and the trimmed nickname", s.User, s.Name)
		}
		if want := t0.Add(2 * time.Hour); !s.Expires.Equal(want) {
			t.Errorf("session expires %v, want %v", s.Expires, want)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("an answer holding a token has Cache-Control %q, want no-store", got)
		}
		id, err := a.Verify(s.Token)
		if err != nil || id.User != s.User || id.Name != "Alice" {
			t.Errorf("the token in the body gives %+v, %v; want %s", id, err, s.User)
		}
		c := loginCookie(w)
		switch {
		case c == nil:
			t.Fatalf("no %s cookie set: %v", auth.DefaultCookieName, w.Header()["Set-Cookie"])
		case c.Value != s.Token:
			t.Errorf("cookie and body hold different tokens")
		case !c.HttpOnly:
			t.Errorf("cookie is readable by scripts (no HttpOnly): %s", w.Header().Get("Set-Cookie"))
		case c.SameSite != http.SameSiteStrictMode:
			t.Errorf("cookie is sent cross-site (SameSite %v, want Strict): %s", c.SameSite, w.Header().Get("Set-Cookie"))
		case c.Path != "/":
			t.Errorf("cookie path %q, want /", c.Path)
		case c.MaxAge != 7200:
			t.Errorf("cookie Max-Age %d, want the TTL, 7200", c.MaxAge)
		case c.Secure != tt.wantSecure:
			t.Errorf("%s: cookie Secure = %v, want %v", tt.name, c.Secure, tt.wantSecure)
		}
	}
}

func TestGuestUsers(t *testing.T) {
	a, _ := newAuth(t, auth.Config{Guest: true})
	h := a.Handler()
	tests := []struct{ nick, slug string }{
		{"Alice", "alice"},
		{"Jean-Luc Picard!", "jean-luc-picard"},
		{"李雷", "guest"},
		{"Zoë 2", "zo-2"},
		{"---", "guest"},
		{strings.Repeat("abc ", 8), "abc-abc-abc-abc-abc-abc"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for range 2 { // two guests with the same nickname are two users
			body, _ := json.Marshal(authwire.GuestRequest{Name: tt.nick})
			w := do(h, http.MethodPost, auth.PathGuest, "application/json", string(body))
			if w.Code != http.StatusOK {
				t.Fatalf("guest %q: %d %s", tt.nick, w.Code, w.Body)
			}
			var s authwire.Session
			decode(t, w, &s)
			m := guestUser.FindStringSubmatch(s.User)
			if m == nil || m[1] != tt.slug {
				t.Errorf("guest %q got user id %q, want %s-xxxxxx", tt.nick, s.User, tt.slug)
			}
			if err := server.ValidUser(s.User); err != nil {
				t.Errorf("guest %q got an invalid user id: %v", tt.nick, err)
			}
			if seen[s.User] {
				t.Errorf("two guests %q got the same user id %s", tt.nick, s.User)
			}
			seen[s.User] = true
		}
	}
}

func TestGuestRefused(t *testing.T) {
	on, _ := newAuth(t, auth.Config{Guest: true})
	off, _ := newAuth(t, auth.Config{Guest: false})
	tests := []struct {
		name        string
		h           http.Handler
		method      string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantMsg     string
	}{
		{"guest login disabled", off.Handler(), "POST", "application/json", `{"name":"Alice"}`, 403, "forbidden", "guest login is disabled on this server"},
		{"GuestHandler alone, disabled", off.GuestHandler(), "POST", "application/json", `{"name":"Alice"}`, 403, "forbidden", "guest login is disabled"},
		{"empty name", on.Handler(), "POST", "application/json", `{"name":""}`, 400, "bad_data", "required"},
		{"blank name", on.Handler(), "POST", "application/json", `{"name":"  \t "}`, 400, "bad_data", "required"},
		{"no name", on.Handler(), "POST", "application/json", `{}`, 400, "bad_data", "required"},
		{"33 characters", on.Handler(), "POST", "application/json", `{"name":"` + strings.Repeat("é", 33) + `"}`, 400, "bad_data", "longer than 32"},
		{"control character", on.Handler(), "POST", "application/json", `{"name":"a\u0007b"}`, 400, "bad_data", "printable"},
		{"tab inside", on.Handler(), "POST", "application/json", `{"name":"a\tb"}`, 400, "bad_data", "printable"},
		{"zero-width space", on.Handler(), "POST", "application/json", `{"name":"a\u200bb"}`, 400, "bad_data", "printable"},
		{"unknown field", on.Handler(), "POST", "application/json", `{"name":"Alice","admin":true}`, 400, "malformed", "unknown field"},
		{"not JSON", on.Handler(), "POST", "application/json", `name=Alice`, 400, "malformed", ""},
		{"trailing data", on.Handler(), "POST", "application/json", `{"name":"Alice"} {}`, 400, "malformed", "after"},
		{"name not a string", on.Handler(), "POST", "application/json", `{"name":42}`, 400, "malformed", ""},
		{"body over 4 KiB", on.Handler(), "POST", "application/json", `{"name":"` + strings.Repeat("a", 5000) + `"}`, 413, "malformed", "4 KiB"},
		{"form post (login CSRF)", on.Handler(), "POST", "application/x-www-form-urlencoded", `name=Alice`, 415, "malformed", "application/json"},
		{"text/plain (login CSRF)", on.Handler(), "POST", "text/plain", `{"name":"Alice"}`, 415, "malformed", "application/json"},
		{"GET", on.Handler(), "GET", "", "", 405, "malformed", "use POST"},
		{"GET on a disabled server", off.Handler(), "GET", "", "", 405, "malformed", "use POST"},
		{"unknown endpoint", on.Handler(), "POST", "application/json", `{}`, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := auth.PathGuest
			if tt.wantStatus == 404 {
				path = "/auth/admin"
			}
			w := do(tt.h, tt.method, path, tt.contentType, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("got HTTP %d %s, want %d", w.Code, w.Body, tt.wantStatus)
			}
			var e authwire.ErrorBody
			decode(t, w, &e)
			if e.Error.Code != tt.wantCode || !strings.Contains(e.Error.Message, tt.wantMsg) {
				t.Fatalf("error %+v, want code %q with a message mentioning %q", e.Error, tt.wantCode, tt.wantMsg)
			}
			if tt.wantStatus == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
			if loginCookie(w) != nil {
				t.Errorf("a refused login set the cookie")
			}
		})
	}
}

func TestRefreshLogoutMe(t *testing.T) {
	a, clk := newAuth(t, auth.Config{Guest: true, TTL: time.Hour})
	h := a.Handler()
	w := do(h, http.MethodPost, auth.PathGuest, "application/json", `{"name":"Bob"}`)
	var login authwire.Session
	decode(t, w, &login)
	ck := loginCookie(w)

	// Who am I, from the cookie: no token in the answer.
	w = do(h, http.MethodGet, auth.PathMe, "", "", ck)
	var me authwire.Session
	decode(t, w, &me)
	if w.Code != 200 || me.User != login.User || me.Name != "Bob" || !me.Expires.Equal(login.Expires) || me.Token != "" {
		t.Fatalf("GET /auth/me = %d %+v, want %s without a token", w.Code, me, login.User)
	}

	// 50 minutes later, the web app refreshes: same user, a later expiry.
	clk.Set(t0.Add(50 * time.Minute))
	w = do(h, http.MethodPost, auth.PathRefresh, "", "", ck)
	var fresh authwire.Session
	decode(t, w, &fresh)
	if w.Code != 200 || fresh.User != login.User || fresh.Name != "Bob" || !fresh.Expires.Equal(t0.Add(110*time.Minute)) {
		t.Fatalf("refresh = %d %+v; want %s until %v", w.Code, fresh, login.User, t0.Add(110*time.Minute))
	}
	newCk := loginCookie(w)
	if newCk == nil || newCk.Value != fresh.Token || newCk.MaxAge != 3600 || !newCk.HttpOnly {
		t.Fatalf("refresh set cookie %+v, want the new token for an hour, HttpOnly", newCk)
	}

	// Native clients refresh with the header.
	r := httptest.NewRequest(http.MethodPost, auth.PathRefresh, nil)
	r.Header.Set("Authorization", "Bearer "+fresh.Token)
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if rw.Code != 200 {
		t.Fatalf("refresh with a bearer token: %d %s", rw.Code, rw.Body)
	}

	// Just after the first token's expiry (a client closed with 1008) it can
	// still be refreshed, within the grace window...
	clk.Set(t0.Add(61 * time.Minute))
	w = do(h, http.MethodPost, auth.PathRefresh, "", "", ck)
	var late authwire.Session
	decode(t, w, &late)
	if w.Code != 200 || late.User != login.User || !late.Expires.Equal(t0.Add(121*time.Minute)) {
		t.Fatalf("refresh one minute after expiry = %d %+v; want %s until %v (within the %s grace)", w.Code, late, login.User, t0.Add(121*time.Minute), auth.DefaultRefreshGrace)
	}
	if w = do(h, http.MethodGet, auth.PathMe, "", "", ck); w.Code != 401 {
		t.Fatalf("GET /auth/me with the expired token = %d, want 401 (the grace is for refresh only)", w.Code)
	}

	// ...but not after it; the fresh one still works.
	clk.Set(t0.Add(63 * time.Minute))
	for _, tt := range []struct {
		name   string
		method string
		path   string
		ck     *http.Cookie
		want   int
		msg    string
	}{
		{"refresh with an expired token", "POST", auth.PathRefresh, ck, 401, "expired"},
		{"me with an expired token", "GET", auth.PathMe, ck, 401, "expired"},
		{"refresh without a token", "POST", auth.PathRefresh, nil, 401, "no token"},
		{"me without a token", "GET", auth.PathMe, nil, 401, "no token"},
		{"refresh with a forged token", "POST", auth.PathRefresh, &http.Cookie{Name: auth.DefaultCookieName, Value: sign(t, jwt.SigningMethodHS256, otherSecret, goodClaims())}, 401, "invalid"},
		{"GET refresh", "GET", auth.PathRefresh, newCk, 405, "use POST"},
		{"POST me", "POST", auth.PathMe, newCk, 405, "use GET"},
		{"GET logout", "GET", auth.PathLogout, newCk, 405, "use POST"},
		{"me with the refreshed token", "GET", auth.PathMe, newCk, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cks []*http.Cookie
			if tt.ck != nil {
				cks = append(cks, tt.ck)
			}
			w := do(h, tt.method, tt.path, "", "", cks...)
			if w.Code != tt.want {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.want == 200 {
				return
			}
			var e authwire.ErrorBody
			decode(t, w, &e)
			if !strings.Contains(e.Error.Message, tt.msg) {
				t.Errorf("error %+v does not say %q", e.Error, tt.msg)
			}
			if tt.want == 401 && (e.Error.Code != auth.CodeUnauthorized || w.Header().Get("WWW-Authenticate") == "") {
				t.Errorf("401 with code %q and WWW-Authenticate %q; want unauthorized and a Bearer challenge", e.Error.Code, w.Header().Get("WWW-Authenticate"))
			}
		})
	}

	// Logout forgets the cookie.
	w = do(h, http.MethodPost, auth.PathLogout, "", "", newCk)
	gone := loginCookie(w)
	if w.Code != http.StatusNoContent || gone == nil || gone.MaxAge >= 0 || gone.Value != "" || !gone.HttpOnly || gone.Path != "/" {
		t.Fatalf("logout = %d with cookie %+v; want 204 deleting the cookie (Max-Age=0, Path=/)", w.Code, gone)
	}
}

// readAll drains and closes a response body.
func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefusedHandshakeSaysWhy(t *testing.T) {
	a, _ := newAuth(t, auth.Config{Now: time.Now})
	e := startWS(t, a)
	for _, tt := range []struct{ query, want string }{
		{"", "no token"},
		{"token=abc.def.ghi", "token is invalid"},
	} {
		_, resp, _, err := e.dial(t, tt.query, nil)
		if err == nil || resp == nil {
			t.Fatalf("?%s: handshake not refused with an HTTP answer: %v", tt.query, err)
		}
		body := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tt.want) {
			t.Errorf("?%s: refused with %d %s; want 401 saying %q", tt.query, resp.StatusCode, body, tt.want)
		}
	}
}
