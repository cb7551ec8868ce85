package ui

import (
	"encoding/json"
	"net/url"
	"sync"
	"time"
)

// A reload, a new tab or a returning visit connects before anything else
// when this browser signed in with a login cookie that is still valid for a
// while: the cookie sign-in leaves the nickname, the user and the cookie's
// expiry in localStorage (loginKey), and the Shell's OnInit dials the
// WebSocket with them before go-app first renders. The handshake then
// travels while the signed-in page is drawn, the page renders once rather
// than first the sign-in form, and no GET /auth/me round trip comes before
// it. When the server refuses the cookie after all (it restarted with
// another secret, the cookie was cleared), the connection fails like any
// other and the session's probe signs in again under the same nickname
// (auth.go).

// loginKey is the localStorage key of the last cookie sign-in (savedLogin).
const loginKey = "tether.login"

// resumeMargin is how long the saved cookie must still be valid for a page
// to connect with it without asking the server first: past that, or with
// a client clock that far off, the page asks /auth/me as a sign-in does.
const resumeMargin = refreshMargin

// savedLogin is what a cookie sign-in saves for the next page.
type savedLogin struct {
	Nick    string    `json:"nick"`
	User    string    `json:"user"`
	Expires time.Time `json:"expires"`
}

// keyValue is a string store: the browser's localStorage (browser_js.go),
// or memory off the browser and in tests.
type keyValue interface {
	Get(key string) (string, bool)
	Set(key, value string)
	Del(key string)
}

// memoryKV is a keyValue in memory.
type memoryKV struct {
	mu sync.Mutex
	m  map[string]string
}

func (kv *memoryKV) Get(key string) (string, bool) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.m[key]
	return v, ok
}

func (kv *memoryKV) Set(key, value string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.m == nil {
		kv.m = make(map[string]string)
	}
	kv.m[key] = value
}

func (kv *memoryKV) Del(key string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.m, key)
}

// saveLogin keeps the cookie login sess, signed in as nick, for the next
// page: under the server's name for the user when it gave one.
func (s *Session) saveLogin(nick string, sess authSession) {
	b, err := json.Marshal(savedLogin{Nick: orDefault(sess.Name, nick), User: sess.User, Expires: sess.Expires})
	if err != nil {
		s.log.Warn("tether ui: cannot save the login", "err", err)
		return
	}
	s.storage.Set(loginKey, string(b))
}

// forgetLogin drops the saved login: the next page asks the server.
func (s *Session) forgetLogin() { s.storage.Del(loginKey) }

// savedLogin returns the saved login, if there is a usable one.
func (s *Session) savedLogin() (savedLogin, bool) {
	v, ok := s.storage.Get(loginKey)
	if !ok {
		return savedLogin{}, false
	}
	var l savedLogin
	if err := json.Unmarshal([]byte(v), &l); err != nil || l.Nick == "" || l.User == "" {
		return savedLogin{}, false
	}
	return l, true
}

// Resume connects with the login the last cookie sign-in of this browser
// saved, to the server that served page, when that login's cookie is
// valid for at least resumeMargin more by the local clock; it sends no
// request first. It returns whether it did: when it did not, SignIn with
// resume asks the server. It does nothing when the session is logged in.
func (s *Session) Resume(page *url.URL) bool {
	return s.resumeAt(page, time.Now())
}

func (s *Session) resumeAt(page *url.URL, now time.Time) bool {
	if s.Status().LoggedIn {
		return false
	}
	l, ok := s.savedLogin()
	if !ok || l.Expires.Sub(now) < resumeMargin {
		return false
	}
	s.login(l.Nick, socketURL(page, "", ""), l.Expires)
	s.mu.Lock()
	if s.nick == l.Nick && s.cl != nil {
		s.user = l.User // until the server's welcome says it
	}
	s.mu.Unlock()
	return true
}
